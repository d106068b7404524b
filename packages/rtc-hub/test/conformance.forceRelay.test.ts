import { afterAll, beforeAll } from '@jest/globals';
import { hubConformance } from '@vnf/conformance';
import { InBrowserHub } from '@vnf/in-browser-hub';
import { ReliableRtcHub, RtcHub } from '@vnf/rtc-hub';
import { WebSocketFactory, WebSocketHub } from '@vnf/websocket-hub';
import { startBroker } from './support/broker';

// forceRelay: every connection over the signaling connection, no data channel. Its own file, so it runs beside the
// WebRTC stacks of conformance.test.ts in the other worker.
hubConformance('RtcHub(InBrowserHub, forceRelay)', {
  createHub: () => new RtcHub(new InBrowserHub(), { forceRelay: true }),
  timeoutMs: 10_000,
});

let broker: Awaited<ReturnType<typeof startBroker>>;
beforeAll(async () => {
  broker = await startBroker();
});
afterAll(() => broker.stop());

const overWebSocket = () => new WebSocketHub(new WebSocketFactory(broker.url, { reconnect: { initialDelayMs: 20, maxDelayMs: 200 } }));
const cutTransport = (endpoint: { eva: string }): void => {
  broker.broker.terminate(endpoint.eva);
};

hubConformance('RtcHub(WebSocketHub, forceRelay)', {
  createHub: () => new RtcHub(overWebSocket(), { forceRelay: true }),
  timeoutMs: 10_000,
  cutTransport,
});

hubConformance('ReliableRtcHub(WebSocketHub, forceRelay)', {
  createHub: () => new ReliableRtcHub(overWebSocket(), { rtc: { forceRelay: true } }),
  timeoutMs: 10_000,
  cutTransport,
});
