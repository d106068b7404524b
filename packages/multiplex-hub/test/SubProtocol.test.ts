import { InBrowserHub } from '@vnf/in-browser-hub';
import { MultiplexHub, SubProtocol } from '@vnf/multiplex-hub';
import { closeAll, connect, thrown, track, waitUntil } from './helpers';

afterEach(closeAll);

async function pair() {
  const hub = track(new MultiplexHub(new InBrowserHub()));
  const a = hub.openEndpoint('a');
  const b = hub.openEndpoint('b');
  await connect(a, b);
  return { a, b };
}

it('tells its name, eva and state, and mirrors the endpoint’s connections', async () => {
  const { a, b } = await pair();
  const x = a.subProtocol('x');
  expect(x).toBeInstanceOf(SubProtocol);
  expect([x.name, x.eva, x.closed]).toEqual(['x', 'a', false]);
  expect(x.isConnected(b.eva)).toBe(true);
  expect(x.connections()).toEqual(a.connections());
  a.closeConnection(b.eva);
  expect(x.isConnected(b.eva)).toBe(false);
});

it('has public methods that work unbound', async () => {
  const { a, b } = await pair();
  const got: unknown[] = [];
  b.subProtocol('x').onMessage = (e) => got.push(e.message);
  const { send, bufferedAmount, isConnected, connections, close } = a.subProtocol('x');
  send(b.eva, 'unbound');
  expect(bufferedAmount(b.eva)).toBeGreaterThanOrEqual(0);
  expect(isConnected(b.eva)).toBe(true);
  expect(connections()).toEqual([b.eva]);
  await waitUntil('the message', () => got.length >= 1);
  expect(got).toEqual(['unbound']);
  close();
  expect(() => a.subProtocol('x')).not.toThrow();
});

it('close() is idempotent, fires close once, drops its listeners and frees the name', async () => {
  const { a, b } = await pair();
  const x = a.subProtocol('x');
  const closes: number[] = [];
  x.on('close', () => closes.push(1));
  x.on('connectionLost', () => undefined);
  x.onMessage = () => undefined;
  x.close();
  x.close();
  expect(closes).toEqual([1]);
  expect(x.listenerCount('connectionLost')).toBe(0);
  expect(x.onMessage).toBeNull();
  const error = thrown(() => x.send(b.eva, 'late'));
  expect(error.code).toBe('DESTROYED');
  expect(error.message).toContain('endpoint.subProtocol("x")');
  const again = a.subProtocol('x');
  expect(again).not.toBe(x);
  expect(again.closed).toBe(false);
});

it('closing one sub-protocol leaves the app and the others working', async () => {
  const { a, b } = await pair();
  const gotY: unknown[] = [];
  const gotApp: unknown[] = [];
  b.subProtocol('x').close();
  b.subProtocol('y').onMessage = (e) => gotY.push(e.message);
  b.onMessage = (e) => gotApp.push(e.message);
  a.subProtocol('y').send(b.eva, 'to y');
  a.send(b.eva, 'to the app');
  await waitUntil('both', () => gotY.length >= 1 && gotApp.length >= 1);
  expect([gotY, gotApp]).toEqual([['to y'], ['to the app']]);
});
