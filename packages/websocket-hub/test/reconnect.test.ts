import { WebSocketHub, type WebSocketEndpoint } from '../src';
import { nextEvent, startBroker, until, type RunningBroker } from './brokerFixture';

let running: RunningBroker;
const hubs: WebSocketHub[] = [];
beforeEach(async () => {
  running = await startBroker();
});
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((hub) => hub.close()));
  await running.close();
});

function hub(): WebSocketHub {
  const created = new WebSocketHub(running.factory());
  hubs.push(created);
  return created;
}

async function connectedPair(): Promise<[WebSocketEndpoint, WebSocketEndpoint]> {
  const a = hub().openEndpoint('alice');
  const b = hub().openEndpoint('bob');
  await b.firstAttempt;
  expect((await a.openConnection('bob')).status).toBe('CONNECTED');
  await until(() => b.isConnected('alice'), 'bob to accept alice');
  return [a, b];
}

function echoOnce(endpoint: WebSocketEndpoint): Promise<string> {
  return new Promise((resolve) => {
    endpoint.onMessage = (event) => resolve(String(event.message));
  });
}

describe('WebSocketHub reconnect', () => {
  it('a socket cut by the broker: offline, every connection lost exactly once on both sides, online again, reachable again', async () => {
    const [a, b] = await connectedPair();
    const events: string[] = [];
    a.on('offline', () => events.push('offline'));
    a.on('online', () => events.push('online'));
    const lostOnA: string[] = [];
    const lostOnB: string[] = [];
    a.onConnectionLost((peer) => lostOnA.push(peer));
    b.onConnectionLost((peer) => lostOnB.push(peer));
    const online = nextEvent(a, 'online');

    expect(running.broker.terminate('alice')).toBe(true);
    await online;
    await until(() => lostOnB.length > 0, 'bob to see alice lost');

    expect(events).toEqual(['offline', 'online']);
    expect(lostOnA).toEqual(['bob']);
    expect(lostOnB).toEqual(['alice']);
    expect(a.connections()).toEqual([]);

    // The eva stayed reachable: bob reconnects to the same alice and messages flow both ways.
    expect((await b.openConnection('alice')).status).toBe('CONNECTED');
    await until(() => a.isConnected('bob'), 'alice to accept bob');
    const atAlice = echoOnce(a);
    b.send('alice', 'hello again');
    expect(await atAlice).toBe('hello again');
    const atBob = echoOnce(b);
    a.send('bob', 'back');
    expect(await atBob).toBe('back');
    expect(lostOnA).toEqual(['bob']);
  });

  it('survives a broker restarted on the same port', async () => {
    const [a, b] = await connectedPair();
    const port = running.port;
    const lostOnB: string[] = [];
    b.onConnectionLost((peer) => lostOnB.push(peer));
    const aOffline = nextEvent(a, 'offline');
    const bOffline = nextEvent(b, 'offline');
    await running.close();
    await Promise.all([aOffline, bOffline]);
    expect(lostOnB).toEqual(['alice']);

    const aOnline = nextEvent(a, 'online', 20_000);
    const bOnline = nextEvent(b, 'online', 20_000);
    running = await startBroker({}, port);
    await Promise.all([aOnline, bOnline]);

    expect((await a.openConnection('bob')).status).toBe('CONNECTED');
    await until(() => b.isConnected('alice'), 'bob to accept alice');
    const atBob = echoOnce(b);
    a.send('bob', 'after restart');
    expect(await atBob).toBe('after restart');
  });

  it('sends while offline throw NOT_CONNECTED; openConnection waits for the endpoint to come back', async () => {
    const [a] = await connectedPair();
    const offline = nextEvent(a, 'offline');
    running.broker.terminate('alice');
    await offline;
    expect(() => a.send('bob', 'x')).toThrow(expect.objectContaining({ code: 'NOT_CONNECTED' }));
    const reopened = await a.openConnection('bob');
    expect(reopened.status).toBe('CONNECTED');
  });
});
