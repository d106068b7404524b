import { WebSocketFactory, WebSocketHub, type VnfSocket } from '../src';
import { FAST_RECONNECT, nextEvent, startBroker, until, type RunningBroker } from './brokerFixture';

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
    expect(() => new WebSocketHub(running.factory(), { maxPayload: 0 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => new WebSocketHub({} as never)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('a misspelt WebSocketHub or WebSocketFactory option throws INVALID_ARGUMENT naming the option meant', () => {
    expect(() => new WebSocketHub(running.factory(), { lowWatermark: 1 } as never)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', message: 'Unknown WebSocketHub option "lowWatermark". Did you mean "lowWaterMark"?' }),
    );
    expect(() => new WebSocketFactory('ws://x', { authTokn: 't' } as never)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', message: 'Unknown WebSocketFactory option "authTokn". Did you mean "authToken"?' }),
    );
    expect(() => new WebSocketFactory('ws://x', { reconnect: { maxDelay: 5 } } as never)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', message: 'Unknown WebSocketFactory option "reconnect.maxDelay". Did you mean "reconnect.maxDelayMs"?' }),
    );
  });

  it('takes the deprecated maxPayloadSize as maxPayload, and not both', () => {
    const emitWarning = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      hub = new WebSocketHub(running.factory(), { maxPayloadSize: 5000 });
      expect(hub.maxPayloadSize).toBe(5000);
      expect(() => new WebSocketHub(running.factory(), { maxPayloadSize: 5000, maxPayload: 5000 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    } finally {
      emitWarning.mockRestore();
    }
    const other = new WebSocketHub(running.factory(), { maxPayload: 4000 });
    expect(other.maxPayloadSize).toBe(4000);
    void other.close();
  });

  it('bufferedAmount grows with queued sends and drain fires once it falls back', async () => {
    hub = new WebSocketHub(running.factory(), { highWaterMark: 512 * 1024, lowWaterMark: 1024 });
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

/**
 * Sockets that hold a received `opened` back and hand it over together with the next message, in one tick:
 * what `ws` does when both frames come in one TCP read.
 */
class CoalescingFactory extends WebSocketFactory {
  override create(): VnfSocket {
    const socket = super.create();
    const setter = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(socket), 'onmessage')!.set!;
    let handler: VnfSocket['onmessage'] = null;
    let held: { data: unknown } | null = null;
    Object.defineProperty(socket, 'onmessage', {
      configurable: true,
      get: () => handler,
      set: (fn: VnfSocket['onmessage']) => {
        handler = fn;
        setter.call(
          socket,
          fn &&
            ((event: { data: unknown }) => {
              if (held) {
                const first = held;
                held = null;
                fn(first);
                fn(event);
              } else if (event.data instanceof ArrayBuffer && new TextDecoder('utf-8', { ignoreBOM: true }).decode(event.data).includes('"t":"opened"')) {
                held = event;
              } else {
                fn(event);
              }
            }),
        );
      },
    });
    return socket;
  }
}

describe('WebSocketEndpoint receiving', () => {
  it("delivers a reply that arrives in the same read as the broker's opened", async () => {
    const targetHub = new WebSocketHub(running.factory());
    const target = targetHub.openEndpoint('target');
    target.on('connection', (peer) => target.send(peer, 'hello at once'));
    await target.firstAttempt;
    hub = new WebSocketHub(new CoalescingFactory(running.url, { reconnect: FAST_RECONNECT }));
    const opener = hub.openEndpoint('opener');
    const received = nextEvent<{ sourceEva: string; message: unknown }>(opener, 'message', 5000);
    try {
      expect((await opener.openConnection('target')).status).toBe('CONNECTED');
      expect(await received).toEqual({ sourceEva: 'target', message: 'hello at once' });
    } finally {
      await targetHub.close();
    }
  });

  it('decodes the source eva of a batch from one sender once, and keeps senders of equal-length evas apart', async () => {
    hub = new WebSocketHub(running.factory());
    const p1 = hub.openEndpoint('p1');
    const p2 = hub.openEndpoint('p2');
    const sink = hub.openEndpoint('sink');
    await p1.openConnection('sink');
    await p2.openConnection('sink');
    const got: { sourceEva: string; message: unknown }[] = [];
    sink.onMessage = (e) => got.push(e);
    const decode = jest.spyOn(TextDecoder.prototype, 'decode');
    try {
      for (let i = 0; i < 20; i++) p1.send('sink', new Uint8Array([i]));
      await until(() => got.length === 20, '20 messages');
      // One decode at most for the eva of the 20 records (none if it was cached from an earlier frame).
      expect(decode.mock.calls.length).toBeLessThanOrEqual(1);
    } finally {
      decode.mockRestore();
    }
    got.length = 0;
    for (let i = 0; i < 10; i++) {
      p1.send('sink', 'p1');
      p2.send('sink', 'p2');
    }
    await until(() => got.length === 20, '20 more messages');
    expect(got.every((e) => e.sourceEva === e.message)).toBe(true);
    expect(got.filter((e) => e.sourceEva === 'p2')).toHaveLength(10);
  });
});
