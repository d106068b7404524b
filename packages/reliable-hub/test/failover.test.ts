// ReliableHub over WebSocketHub on a factory with two brokers of one cluster (one MemoryRouter, one MemoryBus, one
// registry store, as packages/broker/test/cluster.test.ts sets them up): the broker under one side dies mid-stream,
// that side's socket fails over to the other broker keeping its eva, and ReliableHub restores the connection with
// every message delivered once, in order.
import { Broker, MemoryBus, MemoryRouter } from '@vnf/broker';
import { MemoryRegistryStore } from '@vnf/registry';
import { ReliableHub } from '@vnf/reliable-hub';
import { WebSocketFactory, WebSocketHub, type VnfSocket, type WebSocketEndpoint } from '@vnf/websocket-hub';
import { SeverableRouter } from '../../websocket-hub/test/clusterFixture';
import { firstDifference, record, until } from './helpers';

const FAST_RECONNECT = { initialDelayMs: 20, maxDelayMs: 200 };
const N = 300;

/** A WebSocketHub that keeps the endpoints ReliableHub opens on it, to wait for their registration. */
class TappedHub extends WebSocketHub {
  readonly opened = new Map<string, WebSocketEndpoint>();
  override openEndpoint(eva: string): WebSocketEndpoint {
    const endpoint = super.openEndpoint(eva);
    this.opened.set(eva, endpoint);
    return endpoint;
  }
}

/** Records the URL of every socket it opens. */
class RecordingFactory extends WebSocketFactory {
  readonly tried: string[] = [];
  override create(url?: string): VnfSocket {
    this.tried.push(url ?? this.url);
    return super.create(url);
  }
}

const brokers: Broker[] = [];
const hubs: ReliableHub[] = [];
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((hub) => hub.close()));
  await Promise.all(brokers.splice(0).map((broker) => broker.close()));
});

it('restores the connection across a broker that dies: the received sequence is exactly 0..N-1, in order', async () => {
  const router = new MemoryRouter();
  const shared = { bus: new MemoryBus(), registryStore: new MemoryRegistryStore() };
  const dying = new SeverableRouter(router);
  const one = new Broker({ ...shared, router: dying });
  const two = new Broker({ ...shared, router });
  brokers.push(one, two);
  const [a, b] = [await one.listen({ port: 0, host: '127.0.0.1' }), await two.listen({ port: 0, host: '127.0.0.1' })];

  // alice starts on broker one, bob on broker two; both may fail over to the other.
  const aliceFactory = new RecordingFactory([a.url, b.url], { reconnect: FAST_RECONNECT, urlStart: 'first' });
  const aliceInner = new TappedHub(aliceFactory);
  const bobInner = new TappedHub(new WebSocketFactory([b.url, a.url], { reconnect: FAST_RECONNECT, urlStart: 'first' }));
  const aliceHub = new ReliableHub(aliceInner);
  const bobHub = new ReliableHub(bobInner);
  hubs.push(aliceHub, bobHub);
  const alice = aliceHub.openEndpoint('alice');
  const bob = bobHub.openEndpoint('bob');
  await Promise.all([aliceInner.opened.get('alice')!.firstAttempt, bobInner.opened.get('bob')!.firstAttempt]);
  expect(aliceFactory.tried).toEqual([a.url]);
  const atAlice = record(alice);
  const atBob = record(bob);
  expect((await alice.openConnection('bob')).status).toBe('CONNECTED');

  for (let i = 0; i < N / 2; i++) alice.send('bob', String(i));
  await until('bob got the first messages', 10_000, () => atBob.messages.length >= N / 4);

  // Broker one dies: its router writes stop (alice's claim stays), alice's socket is cut without a close frame,
  // and the broker goes. The second half is sent while alice's socket is dead or reconnecting.
  dying.sever();
  expect(one.terminate('alice')).toBe(true);
  for (let i = N / 2; i < N; i++) alice.send('bob', String(i));
  await one.close();

  // Resolves once bob's application has it: everything before it was delivered by then (in order).
  await alice.sendAcknowledged('bob', 'end');
  const expected = [...Array.from({ length: N }, (_, i) => String(i)), 'end'];
  expect(atBob.messages.length === expected.length ? 'same length' : `${atBob.messages.length} messages: ${firstDifference(atBob.messages, expected)}`).toBe('same length');
  expect(atBob.messages).toEqual(expected);
  // The socket went to broker two, and the reliable connection was restored, never reported lost.
  expect(aliceFactory.tried.slice(0, 2)).toEqual([a.url, b.url]);
  expect(aliceInner.opened.get('alice')!.isOnline).toBe(true);
  expect([atAlice.lost, atBob.lost]).toEqual([[], []]);
  expect([atAlice.errors, atBob.errors]).toEqual([[], []]);
}, 30_000);
