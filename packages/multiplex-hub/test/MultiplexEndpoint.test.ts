import type { Endpoint, MessageEvent } from '@vnf/core';
import { InBrowserHub, type InBrowserHubOptions } from '@vnf/in-browser-hub';
import { MarshallerHub } from '@vnf/marshaller-hub';
import { MultiplexHub, type MultiplexHubOptions } from '@vnf/multiplex-hub';
import { MAX_UNKNOWN_REPORTED } from '../src/MultiplexEndpoint';
import { closeAll, connect, errorsOf, inbox, thrown, thrownCode, track, waitUntil } from './helpers';

afterEach(closeAll);

/** A multiplexed endpoint `m` and a raw endpoint `raw` of the same network, connected: `raw` sees the frames. */
async function withRawPeer(options?: MultiplexHubOptions, inner: InBrowserHubOptions = {}) {
  const network = new InBrowserHub(inner);
  const hub = track(new MultiplexHub(network, options));
  const m = hub.openEndpoint('m');
  const raw = network.openEndpoint('raw');
  const frames: unknown[] = [];
  raw.on('message', (event) => frames.push(event.message));
  await connect(m, raw);
  return { hub, network, m, raw, frames };
}

/** Two multiplexed endpoints, connected. */
async function pair(options?: MultiplexHubOptions, inner: InBrowserHubOptions = {}) {
  const hub = track(new MultiplexHub(new InBrowserHub(inner), options));
  const a = hub.openEndpoint('a');
  const b = hub.openEndpoint('b');
  await connect(a, b);
  return { hub, a, b };
}

/** One app message a→b and back, so that what was sent before it has been handled. */
async function barrier(a: Endpoint, b: Endpoint): Promise<void> {
  const atA = inbox(a);
  const echo = (e: MessageEvent): void => {
    if (e.message === 'barrier') b.send(a.eva, 'barrier back');
  };
  b.on('message', echo);
  a.send(b.eva, 'barrier');
  await waitUntil('the barrier', () => atA.includes('barrier back'));
  b.off('message', echo);
}

describe('on the wire', () => {
  it('frames app and sub-protocol messages as the README says', async () => {
    const { m, raw, frames } = await withRawPeer();
    const ping = m.subProtocol('ping');
    m.send(raw.eva, 'hi');
    m.send(raw.eva, Uint8Array.of(7));
    ping.send(raw.eva, 'x');
    ping.send(raw.eva, Uint8Array.of(9));
    await waitUntil('four frames', () => frames.length >= 4);
    expect(frames[0]).toBe('\u0000hi');
    expect(Array.from(frames[1] as Uint8Array)).toEqual([0, 7]);
    expect(frames[2]).toBe('\u0001ping\u0000x');
    expect(Array.from(frames[3] as Uint8Array)).toEqual([1, 4, 112, 105, 110, 103, 9]);
  });

  it('delivers frames written by hand to the app and to the sub-protocol named', async () => {
    const { m, raw } = await withRawPeer();
    const app = inbox(m);
    const ping: unknown[] = [];
    m.subProtocol('ping').onMessage = (e) => ping.push([e.sourceEva, e.message]);
    raw.send(m.eva, '\u0000to the app');
    raw.send(m.eva, '\u0001ping\u0000to ping');
    raw.send(m.eva, Uint8Array.of(1, 4, 112, 105, 110, 103, 42));
    await waitUntil('the messages', () => app.length >= 1 && ping.length >= 2);
    expect(app).toEqual(['to the app']);
    expect(ping[0]).toEqual(['raw', 'to ping']);
    expect(Array.from((ping[1] as [string, Uint8Array])[1])).toEqual([42]);
  });

  it('reports each message that is not a frame as a PROTOCOL error and delivers nothing', async () => {
    const { m, raw } = await withRawPeer();
    const app = inbox(m);
    const errors = errorsOf(m);
    raw.send(m.eva, 'a peer without MultiplexHub');
    raw.send(m.eva, Uint8Array.of(5));
    raw.send(m.eva, '\u0001no end of name');
    raw.send(m.eva, '\u0000ok');
    await waitUntil('the app message', () => app.length >= 1);
    expect(app).toEqual(['ok']);
    expect(errors.map((e) => [e.code, e.details?.reason, e.details?.peer])).toEqual([
      ['PROTOCOL', 'MALFORMED_FRAME', 'raw'],
      ['PROTOCOL', 'MALFORMED_FRAME', 'raw'],
      ['PROTOCOL', 'MALFORMED_FRAME', 'raw'],
    ]);
    expect(errors[0]!.message).toContain('U+0061');
  });
});

describe('unknown sub-protocols', () => {
  it('are reported once per name and peer, again after the name was opened and closed, and after a new connection', async () => {
    const { m, raw } = await withRawPeer();
    const errors = errorsOf(m);
    const app = inbox(m);
    const sendOn = (name: string, text: string): void => raw.send(m.eva, `\u0001${name}\u0000${text}`);
    sendOn('ghost', '1');
    sendOn('ghost', '2');
    sendOn('other', '3');
    raw.send(m.eva, '\u0000flush');
    await waitUntil('the flush', () => app.includes('flush'));
    expect(errors.map((e) => e.details?.subProtocol)).toEqual(['ghost', 'other']);
    expect(errors.every((e) => e.code === 'PROTOCOL' && e.details?.reason === 'UNKNOWN_SUB_PROTOCOL')).toBe(true);
    expect(app).toEqual(['flush']);

    m.subProtocol('ghost').close();
    sendOn('ghost', '4');
    sendOn('other', '5');
    raw.send(m.eva, '\u0000flush2');
    await waitUntil('the second flush', () => app.includes('flush2'));
    expect(errors.map((e) => e.details?.subProtocol)).toEqual(['ghost', 'other', 'ghost']);

    m.closeConnection(raw.eva);
    await connect(m, raw);
    sendOn('other', '6');
    raw.send(m.eva, '\u0000flush3');
    await waitUntil('the third flush', () => app.includes('flush3'));
    expect(errors.map((e) => e.details?.subProtocol)).toEqual(['ghost', 'other', 'ghost', 'other']);
  });

  it(`are reported for at most ${MAX_UNKNOWN_REPORTED} names per peer and connection`, async () => {
    const { m, raw } = await withRawPeer();
    const errors = errorsOf(m);
    const app = inbox(m);
    for (let i = 0; i < MAX_UNKNOWN_REPORTED + 10; i++) raw.send(m.eva, `\u0001name${i}\u0000x`);
    raw.send(m.eva, '\u0000flush');
    await waitUntil('the flush', () => app.includes('flush'));
    expect(errors).toHaveLength(MAX_UNKNOWN_REPORTED);
  });

  it('are dropped silently with reportUnknownSubProtocols: false', async () => {
    const { a, b } = await pair({ reportUnknownSubProtocols: false });
    const errors = errorsOf(b);
    const app = inbox(b);
    a.subProtocol('optional').send(b.eva, 'ignored');
    await barrier(a, b);
    expect(errors).toEqual([]);
    expect(app).toEqual(['barrier']);
  });

  it('include messages sent before the receiver opened the name (open sub-protocols before connecting)', async () => {
    const { a, b } = await pair();
    const errors = errorsOf(b);
    a.subProtocol('late').send(b.eva, 'too early');
    await barrier(a, b);
    const got: unknown[] = [];
    b.subProtocol('late').onMessage = (e) => got.push(e.message);
    await barrier(a, b);
    expect(got).toEqual([]);
    expect(errors.map((e) => e.details?.subProtocol)).toEqual(['late']);
  });
});

describe('subProtocol()', () => {
  it('validates the name and opens one channel per name', async () => {
    const { a } = await pair();
    for (const name of ['', 'x'.repeat(65), 'nul\u0000', 7, null]) {
      expect(thrownCode(() => a.subProtocol(name as string))).toBe('INVALID_ARGUMENT');
    }
    const first = a.subProtocol('x');
    const duplicate = thrown(() => a.subProtocol('x'));
    expect(duplicate.code).toBe('INVALID_ARGUMENT');
    expect(duplicate.message).toContain('already open');
    first.close();
    expect(a.subProtocol('x').closed).toBe(false);
  });

  it('works unbound and throws DESTROYED after destroy()', async () => {
    const { a } = await pair();
    const { subProtocol } = a;
    expect(subProtocol('unbound').name).toBe('unbound');
    a.destroy();
    expect(thrownCode(() => subProtocol('after'))).toBe('DESTROYED');
  });
});

describe('sending on a sub-protocol', () => {
  it('checks size against the inner limit minus its own header (maxPayloadSize)', async () => {
    const { a, b } = await pair({}, { maxPayloadSize: 1000 });
    const ping = a.subProtocol('ping');
    b.subProtocol('ping');
    expect(ping.maxPayloadSize).toBe(1000 - 6);
    expect(thrownCode(() => ping.send(b.eva, 'x'.repeat(995)))).toBe('TOO_LARGE');
    expect(thrownCode(() => ping.send(b.eva, new Uint8Array(995)))).toBe('TOO_LARGE');
    expect(thrownCode(() => a.send(b.eva, new Uint8Array(1000)))).toBe('TOO_LARGE');
    const error = thrown(() => ping.send(b.eva, 'é'.repeat(500)));
    expect(error.details).toEqual({ size: 1000, limit: 994 });
    expect(() => ping.send(b.eva, 'x'.repeat(994))).not.toThrow();
    expect(() => a.send(b.eva, new Uint8Array(999))).not.toThrow();
  });

  it('throws INVALID_PAYLOAD for what the hub beneath cannot carry, saying MultiplexHub framed it', async () => {
    const { a, b } = await pair();
    const ping = a.subProtocol('ping');
    for (const payload of [{ an: 'object' }, 42, null, undefined, 'lone \uD800']) {
      const error = thrown(() => ping.send(b.eva, payload));
      expect(error.code).toBe('INVALID_PAYLOAD');
      expect(error.message).toContain('MultiplexHub');
      expect(error.cause).toBeDefined();
      expect(thrownCode(() => a.send(b.eva, payload))).toBe('INVALID_PAYLOAD');
    }
  });

  it('carries JSON values over a MarshallerHub, binary nested inside', async () => {
    const hub = track(new MultiplexHub(new MarshallerHub(new InBrowserHub())));
    const a = hub.openEndpoint('a');
    const b = hub.openEndpoint('b');
    const got: unknown[] = [];
    b.subProtocol('rooms').onMessage = (e) => got.push(e.message);
    await connect(a, b);
    a.subProtocol('rooms').send(b.eva, { join: 'lobby', key: Uint8Array.of(1, 2) });
    await waitUntil('the message', () => got.length >= 1);
    expect(got).toEqual([{ join: 'lobby', key: Uint8Array.of(1, 2) }]);
  });
});

describe('events', () => {
  it('relays connection and connectionLost to every sub-protocol, after the endpoint', async () => {
    const hub = track(new MultiplexHub(new InBrowserHub()));
    const a = hub.openEndpoint('a');
    const b = hub.openEndpoint('b');
    const order: string[] = [];
    b.on('connection', (eva) => order.push(`endpoint connection ${eva}`));
    b.on('connectionLost', (eva) => order.push(`endpoint lost ${eva}`));
    const x = b.subProtocol('x');
    x.on('connection', (eva) => order.push(`x connection ${eva}`));
    x.on('connectionLost', (eva) => order.push(`x lost ${eva}`));
    const opened: string[] = [];
    a.subProtocol('y').on('connection', (eva) => opened.push(eva));
    await connect(a, b);
    expect(opened).toEqual(['b']);
    await waitUntil('the accept at b', () => order.length >= 2);
    a.closeConnection(b.eva);
    await waitUntil('the loss at b', () => order.length >= 4);
    expect(order).toEqual(['endpoint connection a', 'x connection a', 'endpoint lost a', 'x lost a']);
  });

  it('relays drain; bufferedAmount is the endpoint’s', async () => {
    const { a, b } = await pair({}, { highWaterMark: 2000, lowWaterMark: 1000 });
    const x = a.subProtocol('bulk');
    b.subProtocol('bulk');
    const drains: string[] = [];
    x.on('drain', (eva) => drains.push(eva));
    for (let i = 0; i < 10; i++) x.send(b.eva, new Uint8Array(1000));
    expect(x.bufferedAmount(b.eva)).toBe(a.bufferedAmount(b.eva));
    expect(x.bufferedAmount(b.eva)).toBeGreaterThan(1000);
    await waitUntil('drain', () => drains.length >= 1);
    expect(drains[0]).toBe('b');
  });

  it('reports a throwing sub-protocol listener as LISTENER_ERROR on the endpoint', async () => {
    const hub = track(new MultiplexHub(new InBrowserHub()));
    const a = hub.openEndpoint('a');
    const b = hub.openEndpoint('b');
    const errors = errorsOf(b);
    const x = b.subProtocol('x');
    x.on('connection', () => {
      throw new Error('connection listener failed');
    });
    x.on('message', () => {
      throw new Error('message listener failed');
    });
    await connect(a, b);
    a.subProtocol('x').send(b.eva, 'boom');
    await waitUntil('two errors', () => errors.length >= 2);
    expect(errors.map((e) => e.code)).toEqual(['LISTENER_ERROR', 'LISTENER_ERROR']);
    expect(errors[1]!.message).toContain('sub-protocol "x" of endpoint b');
  });

  it('destroy() closes every sub-protocol: close fires once, then every method throws DESTROYED', async () => {
    const { a, b } = await pair();
    const x = a.subProtocol('x');
    const closes: string[] = [];
    x.on('close', () => closes.push('x'));
    a.destroy();
    expect(x.closed).toBe(true);
    expect(closes).toEqual(['x']);
    for (const call of [() => x.send(b.eva, 'm'), () => x.bufferedAmount(b.eva), () => x.isConnected(b.eva), () => x.connections()]) {
      expect(thrownCode(call)).toBe('DESTROYED');
    }
    x.close();
    expect(closes).toEqual(['x']);
  });
});
