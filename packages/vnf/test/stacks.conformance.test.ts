// The documented stacks over a real broker, through the umbrella as users import it (docs/design.md, Stacking decorators).
// Stacks with WebRTC run in packages/rtc-hub/test/conformance.test.ts.
import { hubConformance } from '@vnf/conformance';
import { Broker } from '@vnf/broker';
import * as Vnf from 'vnf';

const seed = Number(process.env.CHAOS_SEED ?? 20261123);
let broker: Broker;
let url: string;

beforeAll(async () => {
  broker = new Broker();
  ({ url } = await broker.listen({ port: 0, host: '127.0.0.1' }));
});
afterAll(() => broker.close());

const factory = (): InstanceType<typeof Vnf.WebSocketFactory> =>
  new Vnf.WebSocketFactory(url, { reconnect: { initialDelayMs: 20, maxDelayMs: 200 } });
const cutTransport = (endpoint: { eva: string }): void => {
  broker.terminate(endpoint.eva);
};
const chaos = { seed, drop: 0.1, duplicate: 0.05, reorder: 0.05 };
/** As in packages/reliable-hub/test/conformance.test.ts: ten failed attempts in a row of one message (p ≈ 6e-8) fit in it. */
const CHAOS_TIMEOUT_MS = 20_000;

hubConformance(`ReliableHub(UnreliableHub(WebSocketHub)) seed=${seed}`, {
  createHub: () => new Vnf.ReliableHub(new Vnf.UnreliableHub(new Vnf.WebSocketHub(factory()), chaos)),
  timeoutMs: CHAOS_TIMEOUT_MS,
  messageCount: 100,
  cutTransport,
  // ReliableHub's multicast is an unsequenced datagram: the chaos beneath may drop it.
  multicastMayLose: true,
});

hubConformance(`MarshallerHub(ReliableHub(UnreliableHub(WebSocketHub))) seed=${seed}`, {
  createHub: () => new Vnf.MarshallerHub(new Vnf.ReliableHub(new Vnf.UnreliableHub(new Vnf.WebSocketHub(factory()), chaos))),
  payloads: 'json',
  timeoutMs: CHAOS_TIMEOUT_MS,
  messageCount: 100,
  cutTransport,
  // ReliableHub's multicast is an unsequenced datagram: the chaos beneath may drop it.
  multicastMayLose: true,
});

hubConformance('MarshallerHub(WebSocketHub)', {
  createHub: () => new Vnf.MarshallerHub(new Vnf.WebSocketHub(factory())),
  payloads: 'json',
  timeoutMs: 10_000,
  cutTransport,
});
