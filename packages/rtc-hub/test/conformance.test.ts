import { afterAll, beforeAll } from '@jest/globals';
import { hubConformance } from '@vnf/conformance';
import { InBrowserHub } from '@vnf/in-browser-hub';
import { MarshallerHub } from '@vnf/marshaller-hub';
import { ReliableRtcHub, RtcHub } from '@vnf/rtc-hub';
import { WebSocketFactory, WebSocketHub } from '@vnf/websocket-hub';
import { startBroker } from './support/broker';

// Real WebRTC (@roamhq/wrtc) on loopback only; no STUN/TURN.
hubConformance('RtcHub(InBrowserHub)', {
  createHub: () => new RtcHub(new InBrowserHub()),
  timeoutMs: 10_000,
});

hubConformance('ReliableRtcHub(InBrowserHub)', {
  createHub: () => new ReliableRtcHub(new InBrowserHub()),
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

hubConformance('RtcHub(WebSocketHub)', {
  createHub: () => new RtcHub(overWebSocket()),
  timeoutMs: 10_000,
  cutTransport,
});

hubConformance('ReliableRtcHub(WebSocketHub)', {
  createHub: () => new ReliableRtcHub(overWebSocket()),
  timeoutMs: 10_000,
  cutTransport,
});

hubConformance('MarshallerHub(ReliableRtcHub(WebSocketHub))', {
  createHub: () => new MarshallerHub(new ReliableRtcHub(overWebSocket())),
  payloads: 'json',
  timeoutMs: 10_000,
  cutTransport,
});
