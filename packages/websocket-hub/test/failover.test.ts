// Failover between the brokers of one cluster: a factory given several URLs moves a socket whose broker died to the
// next URL, and its session token keeps the eva there (the brokers share one router).
import { trackResources } from '@vnf/conformance';
import { WebSocketFactory, WebSocketHub, type SessionStore, type VnfSocket, type WebSocketEndpoint, type WebSocketFactoryOptions } from '../src';
import { FAST_RECONNECT, nextEvent, until } from './brokerFixture';
import { startCluster, type ClusterBroker } from './clusterFixture';

/** Records the URL of every socket it opens, in order. */
class RecordingFactory extends WebSocketFactory {
  readonly tried: string[] = [];

  override create(url?: string): VnfSocket {
    this.tried.push(url ?? this.url);
    return super.create(url);
  }
}

/** A sessionStore in memory, to read the token the broker welcomed an eva with. */
class MapStore implements SessionStore {
  readonly items = new Map<string, string>();
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.items.set(key, value);
  }
  removeItem(key: string): void {
    this.items.delete(key);
  }
}

let nodes: ClusterBroker[] = [];
const hubs: WebSocketHub[] = [];

afterEach(async () => {
  await Promise.all(hubs.splice(0).map((hub) => hub.close()));
  await Promise.all(nodes.splice(0).map((node) => node.close()));
});

function hubOn(factory: WebSocketFactory): WebSocketHub {
  const hub = new WebSocketHub(factory);
  hubs.push(hub);
  return hub;
}

/** A factory over both brokers, A first (the deterministic start), with fast reconnects. */
function failoverFactory(options: WebSocketFactoryOptions = {}): RecordingFactory {
  return new RecordingFactory(
    nodes.map((node) => node.url),
    { reconnect: FAST_RECONNECT, urlStart: 'first', ...options },
  );
}

function nextMessage(endpoint: WebSocketEndpoint): Promise<string> {
  return new Promise((resolve) => {
    endpoint.onMessage = (event) => resolve(String(event.message));
  });
}

describe('WebSocketFactory failover across a cluster', () => {
  it('an endpoint whose broker dies reconnects to the next URL, keeps its eva with its session token, and is reachable again', async () => {
    const resources = trackResources();
    nodes = await startCluster(2);
    const [a, b] = nodes as [ClusterBroker, ClusterBroker];
    const store = new MapStore();
    const factory = failoverFactory({ sessionStore: store });
    const alice = hubOn(factory).openEndpoint('alice');
    const bob = hubOn(new WebSocketFactory(b.url, { reconnect: FAST_RECONNECT })).openEndpoint('bob');
    await Promise.all([alice.firstAttempt, bob.firstAttempt]);
    expect(alice.isOnline).toBe(true);
    expect(factory.tried).toEqual([a.url]);
    expect((await alice.openConnection('bob')).status).toBe('CONNECTED');
    await until(() => bob.isConnected('alice'), 'bob to accept alice');
    const [tokenKey, token] = [...store.items].find(([key]) => key.endsWith(':endpoint:alice'))!;

    const events: string[] = [];
    alice.on('offline', () => events.push('offline'));
    alice.on('online', () => events.push('online'));
    const errors: string[] = [];
    alice.on('error', (error: { code: string }) => errors.push(error.code));
    const lostOnBob: string[] = [];
    bob.onConnectionLost((peer) => lostOnBob.push(peer));
    const online = nextEvent(alice, 'online', 20_000);

    await a.kill();
    await online;

    // The next attempt went to B, and B took the session over: the same token, so the same eva and session.
    expect(factory.tried).toEqual([a.url, b.url]);
    expect(events).toEqual(['offline', 'online']);
    expect(errors).toEqual([]);
    expect(store.getItem(tokenKey)).toBe(token);
    await until(() => lostOnBob.includes('alice'), 'bob to see alice lost');

    // Reachable again, now through B: bob opens a connection to the same alice, and messages flow both ways.
    expect((await bob.openConnection('alice')).status).toBe('CONNECTED');
    await until(() => alice.isConnected('bob'), 'alice to accept bob');
    const atAlice = nextMessage(alice);
    bob.send('alice', 'after failover');
    expect(await atAlice).toBe('after failover');
    const atBob = nextMessage(bob);
    alice.send('bob', 'back');
    expect(await atBob).toBe('back');

    await Promise.all(hubs.splice(0).map((hub) => hub.close()));
    await Promise.all(nodes.splice(0).map((node) => node.close()));
    await resources.released(5000);
  });

  it('a new socket whose first URL is down connects through the next one', async () => {
    nodes = await startCluster(2);
    const [a, b] = nodes as [ClusterBroker, ClusterBroker];
    await a.kill();
    const factory = failoverFactory();
    const carol = hubOn(factory).openEndpoint('carol');
    await until(() => carol.isOnline, 'carol to register through B');
    expect(factory.tried).toEqual([a.url, b.url]);
  });

  it("a broker's clean shutdown (1001, reconnect later) moves its endpoints to the next broker too", async () => {
    nodes = await startCluster(2);
    const [a, b] = nodes as [ClusterBroker, ClusterBroker];
    const factory = failoverFactory();
    const dave = hubOn(factory).openEndpoint('dave');
    await dave.firstAttempt;
    const online = nextEvent(dave, 'online');
    await a.close();
    await online;
    expect(factory.tried).toEqual([a.url, b.url]);
  });
});
