import { WebSocketFactory, WebSocketHub } from '../src';
import { nextEvent, startBroker, type RunningBroker } from './brokerFixture';

let running: RunningBroker;
let hub: WebSocketHub;
beforeEach(async () => {
  running = await startBroker();
});
afterEach(async () => {
  await hub?.close();
  await running.close();
});

describe('WebSocketEndpoint', () => {
  it('invalid options throw INVALID_ARGUMENT', () => {
    expect(() => new WebSocketFactory('http://x')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => new WebSocketFactory('ws://x', { reconnect: { jitter: 2 } })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => new WebSocketHub(running.factory(), { maxPayloadSize: 0 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => new WebSocketHub({} as never)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('bufferedAmount grows with queued sends and drain fires once it falls back', async () => {
    hub = new WebSocketHub(running.factory(), { lowWaterMark: 1024 });
    const a = hub.openEndpoint('a');
    const b = hub.openEndpoint('b');
    await a.openConnection('b');
    let received = 0;
    b.onMessage = () => received++;
    const drained = nextEvent<string>(a, 'drain');
    const chunk = new Uint8Array(64 * 1024);
    for (let i = 0; i < 16; i++) a.send('b', chunk);
    expect(a.bufferedAmount('b')).toBeGreaterThanOrEqual(16 * 64 * 1024);
    expect(a.bufferedAmount('nobody')).toBe(0);
    expect(await drained).toBe('b');
    expect(a.bufferedAmount('b')).toBeLessThanOrEqual(1024);
  });

  it('binary payloads arrive as binary, strings as strings, in one batch and in order', async () => {
    hub = new WebSocketHub(running.factory());
    const a = hub.openEndpoint('a');
    const b = hub.openEndpoint('b');
    await a.openConnection('b');
    const got: unknown[] = [];
    const done = new Promise<void>((resolve) => {
      b.onMessage = (e) => {
        got.push(e.message);
        if (got.length === 3) resolve();
      };
    });
    a.send('b', 'one');
    a.send('b', new Uint8Array([1, 2, 3]).buffer);
    a.send('b', '');
    await done;
    expect(got[0]).toBe('one');
    expect(got[1]).toBeInstanceOf(Uint8Array);
    expect([...(got[1] as Uint8Array)]).toEqual([1, 2, 3]);
    expect(got[2]).toBe('');
  });
});
