import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { ConnectionStatus, DecoratorEndpoint, DecoratorHub, VnfError, type Endpoint, type EndpointOptions, type Hub } from '@vnf/core';
import { InBrowserHub } from '@vnf/in-browser-hub';
import { MarshallerHub } from '@vnf/marshaller-hub';
import { UnreliableHub } from '@vnf/unreliable-hub';
import { ReliableHub, type ReliableEndpoint, type ReliableHubOptions } from '@vnf/reliable-hub';
import { GateHub, firstDifference, record, until } from './helpers';

const hubs: Hub[] = [];
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((hub) => hub.close()));
});

function chaosStack(
  chaos: ConstructorParameters<typeof UnreliableHub>[1] = {},
  options: ReliableHubOptions = {},
): { hub: ReliableHub; unreliable: UnreliableHub } {
  const unreliable = new UnreliableHub(new InBrowserHub(), { seed: 7, ...chaos });
  const hub = new ReliableHub(unreliable, options);
  hubs.push(hub);
  return { hub, unreliable };
}

async function pair(hub: ReliableHub, a = 'a', b = 'b'): Promise<[ReliableEndpoint, ReliableEndpoint]> {
  const ea = hub.openEndpoint(a);
  const eb = hub.openEndpoint(b);
  const event = await ea.openConnection(b);
  expect(event).toEqual({ status: ConnectionStatus.CONNECTED, targetEva: b });
  return [ea, eb];
}

const FAST_LIVENESS: ReliableHubOptions = { heartbeatIntervalMs: 50, heartbeatTimeoutMs: 200 };

describe('ReliableHub construction', () => {
  it('reports the inner limit minus its header as maxPayloadSize', () => {
    const hub = new ReliableHub(new InBrowserHub({ maxPayloadSize: 1000 }));
    hubs.push(hub);
    expect(hub.maxPayloadSize).toBe(1000 - 17);
  });

  it.each<[string, ReliableHubOptions]>([
    ['an unknown option', { retries: 3 } as ReliableHubOptions],
    ['a negative timeout', { restoreTimeoutMs: -1 }],
    ['a fractional window', { sendWindow: 2.5 }],
    ['a heartbeat timeout not above the interval', { heartbeatIntervalMs: 500, heartbeatTimeoutMs: 500 }],
    ['a low-water mark not below the buffer limit', { maxBufferedBytes: 100, lowWaterMark: 100 }],
    ['a minimum RTO above the maximum', { minRtoMs: 500, initialRtoMs: 500, maxRtoMs: 100 }],
  ])('throws INVALID_ARGUMENT for %s', (_what, options) => {
    const inner = new InBrowserHub();
    let thrown: unknown;
    try {
      new ReliableHub(inner, options);
    } catch (err) {
      thrown = err;
    }
    expect(VnfError.is(thrown, 'INVALID_ARGUMENT')).toBe(true);
    void inner.close();
  });

  it('throws INVALID_ARGUMENT naming the option meant for a misspelt one', () => {
    const inner = new InBrowserHub();
    expect(() => new ReliableHub(inner, { sendWindw: 8 } as ReliableHubOptions)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', message: 'Unknown ReliableHub option "sendWindw". Did you mean "sendWindow"?' }),
    );
    void inner.close();
  });

  it('still takes the deprecated lowWaterMarkBytes and innerHighWaterMarkBytes, as lowWaterMark and innerHighWaterMark', () => {
    const emitWarning = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const inner = new InBrowserHub();
    try {
      expect(() => new ReliableHub(inner, { highWaterMark: 50, lowWaterMarkBytes: 100 })).toThrow(/lowWaterMark \(100\) must be less than highWaterMark/);
      expect(() => new ReliableHub(inner, { innerHighWaterMarkBytes: 0 })).toThrow(/ReliableHub option "innerHighWaterMarkBytes" must be/);
      expect(new ReliableHub(inner, { lowWaterMarkBytes: 1000, highWaterMark: 4000 }).lowWaterMark).toBe(1000);
      expect(() => new ReliableHub(inner, { lowWaterMarkBytes: 10, lowWaterMark: 10 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    } finally {
      emitWarning.mockRestore();
      void inner.close();
    }
  });

  it('throws INVALID_ARGUMENT when the inner frames cannot hold its header', () => {
    const inner = new InBrowserHub({ maxPayloadSize: 10 });
    expect(() => new ReliableHub(inner)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    void inner.close();
  });
});

describe('ReliableHub delivery', () => {
  it('delivers exactly once and in order, both ways, under drop, duplication, reordering and jitter', async () => {
    const { hub, unreliable } = chaosStack({ drop: 0.2, duplicate: 0.2, reorder: 0.2, jitterMs: 3 });
    const [a, b] = await pair(hub);
    const atA = record(a);
    const atB = record(b);
    const count = 600;
    const expectedAtB: unknown[] = [];
    const expectedAtA: string[] = [];
    for (let i = 0; i < count; i++) {
      const payload = i % 3 === 0 ? new Uint8Array([i & 0xff, (i >> 8) & 0xff, 7]) : `a${i}`;
      a.send('b', payload);
      expectedAtB.push(typeof payload === 'string' ? payload : `bin:${payload.join(',')}`);
      b.send('a', `b${i}`);
      expectedAtA.push(`b${i}`);
    }
    const seenAtB = (): unknown[] => atB.messages.map((m) => (m instanceof Uint8Array ? `bin:${[...m].join(',')}` : m));
    await until(`${count} messages at b`, 30_000, () => atB.messages.length >= count, () => `${atB.messages.length}`);
    await until(`${count} messages at a`, 30_000, () => atA.messages.length >= count, () => `${atA.messages.length}`);
    expect(firstDifference(seenAtB(), expectedAtB)).toBe('no difference');
    expect(firstDifference(atA.messages, expectedAtA)).toBe('no difference');
    const stats = unreliable.chaos.stats();
    // The chaos really happened, and was repaired.
    expect(stats.dropped).toBeGreaterThan(50);
    expect(stats.duplicated).toBeGreaterThan(50);
    expect(stats.reordered).toBeGreaterThan(50);
    expect(atA.lost).toEqual([]);
    expect(atB.lost).toEqual([]);
    await until('send buffers to empty', 10_000, () => a.bufferedAmount('b') === 0 && b.bufferedAmount('a') === 0);
  });

  it('delivers binary as a Uint8Array that owns its bytes', async () => {
    const { hub } = chaosStack();
    const [a, b] = await pair(hub);
    const atB = record(b);
    a.send('b', new Uint8Array([1, 2, 3]).buffer);
    await until('the message', 5000, () => atB.messages.length === 1);
    const got = atB.messages[0] as Uint8Array;
    expect(got).toBeInstanceOf(Uint8Array);
    expect(got.byteOffset).toBe(0);
    expect(got.buffer.byteLength).toBe(3);
    expect([...got]).toEqual([1, 2, 3]);
  });

  it('resumes across cut inner connections: messages sent during the outage arrive once, in order', async () => {
    const { hub, unreliable } = chaosStack({}, { reconnectBaseMs: 10 });
    const [a, b] = await pair(hub);
    const atA = record(a);
    const atB = record(b);
    const expected: string[] = [];
    let innerLosses = 0;
    // Count the inner connection drops the reliable layer hides.
    unreliable.chaos.onEvent((event) => {
      if (event.action === 'cut') innerLosses++;
    });
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 40; i++) {
        const m = `r${round}-${i}`;
        a.send('b', m);
        expected.push(m);
        if (i === 20) expect(unreliable.chaos.cut('a', 'b')).toBe(true);
      }
      // Sent while the inner connection is down (the cut is reported on a later macrotask).
      const during = `during-${round}`;
      a.send('b', during);
      expected.push(during);
      await until(`round ${round}`, 15_000, () => atB.messages.length === expected.length, () => `${atB.messages.length}/${expected.length}`);
    }
    expect(innerLosses).toBe(5);
    expect(firstDifference(atB.messages, expected)).toBe('no difference');
    expect(atA.lost).toEqual([]);
    expect(atB.lost).toEqual([]);
    expect(a.isConnected('b')).toBe(true);
    // The connection still works the other way.
    b.send('a', 'still here');
    await until('a reply', 5000, () => atA.messages.includes('still here'));
  });

  it('resumes after a partition heals, within restoreTimeoutMs', async () => {
    const { hub, unreliable } = chaosStack({}, { ...FAST_LIVENESS, restoreTimeoutMs: 20_000 });
    const [a, b] = await pair(hub);
    const atA = record(a);
    const atB = record(b);
    unreliable.chaos.partition(['a'], ['b']);
    for (let i = 0; i < 50; i++) a.send('b', `p${i}`);
    // Long enough silence that both sides consider the connection broken (several heartbeat timeouts).
    let probes = 0;
    const stop = unreliable.chaos.onEvent((event) => {
      if (event.action === 'partitioned') probes++;
    });
    await until('the peers to probe through the partition', 10_000, () => probes > 20);
    stop();
    unreliable.chaos.heal();
    await until('all 50 messages', 15_000, () => atB.messages.length === 50, () => `${atB.messages.length}`);
    expect(atB.messages).toEqual(Array.from({ length: 50 }, (_, i) => `p${i}`));
    expect(atA.lost).toEqual([]);
    expect(atB.lost).toEqual([]);
  });
});

describe('ReliableHub connection loss', () => {
  it('reports a restarted peer (new session) as lost with PEER_RESTARTED, then accepts its new connection', async () => {
    const unreliable = new UnreliableHub(new InBrowserHub(), { seed: 3 });
    // A retries re-opening only much later, so the restarted peer's handshake is what A sees first.
    const hubA = new ReliableHub(unreliable, { reconnectBaseMs: 60_000, reconnectMaxMs: 60_000 });
    const hubB = new ReliableHub(unreliable);
    hubs.push(hubA, hubB);
    const a = hubA.openEndpoint('a');
    const b1 = hubB.openEndpoint('b');
    expect((await b1.openConnection('a')).status).toBe(ConnectionStatus.CONNECTED);
    const atA = record(a);
    b1.send('a', 'from the first b');
    await until('first message', 5000, () => atA.messages.length === 1);
    // b dies without its CLOSE reaching a: a only sees its inner connection drop.
    unreliable.chaos.blackhole('a', 'b');
    b1.send('a', 'never arrives');
    b1.destroy();
    await until('the inner connection loss at a', 5000, () => unreliable.chaos.stats().blackholed >= 2);
    unreliable.chaos.blackhole('a', 'b', false);
    const b2 = hubB.openEndpoint('b');
    expect(b2.session).not.toBe(b1.session);
    expect((await b2.openConnection('a')).status).toBe(ConnectionStatus.CONNECTED);
    await until('the lost-event at a', 5000, () => atA.lost.length === 1);
    expect(atA.lost).toEqual(['b']);
    expect(atA.errors.map((e) => e.code)).toEqual(['PEER_RESTARTED']);
    b2.send('a', 'from the second b');
    await until('the new connection to work', 5000, () => atA.messages.length === 2);
    expect(atA.messages).toEqual(['from the first b', 'from the second b']);
    expect(atA.connections).toEqual(['b']);
  });

  it('reports a restart found through a RESET (the restarted peer does not connect back) with PEER_RESTARTED', async () => {
    const unreliable = new UnreliableHub(new InBrowserHub(), { seed: 4 });
    const hubA = new ReliableHub(unreliable, { reconnectBaseMs: 10, reconnectMaxMs: 50 });
    const hubB = new ReliableHub(unreliable);
    hubs.push(hubA, hubB);
    const a = hubA.openEndpoint('a');
    const b1 = hubB.openEndpoint('b');
    expect((await a.openConnection('b')).status).toBe(ConnectionStatus.CONNECTED);
    const atA = record(a);
    await a.sendAcknowledged('b', 'to the first b');
    // b dies without its CLOSE reaching a: a only sees its inner connection drop, and keeps re-opening it.
    unreliable.chaos.blackhole('a', 'b');
    const unacknowledged = a.sendAcknowledged('b', 'sent while b dies');
    b1.destroy();
    await until('the CLOSE frames to vanish', 5000, () => unreliable.chaos.stats().blackholed >= 2);
    unreliable.chaos.blackhole('a', 'b', false);
    // The new b opens no connection: it only answers a's frames of the old connection with a RESET.
    const b2 = hubB.openEndpoint('b');
    await expect(unacknowledged).rejects.toMatchObject({ code: 'PEER_RESTARTED' });
    await until('the lost-event at a', 5000, () => atA.lost.length === 1);
    expect(atA.lost).toEqual(['b']);
    expect(atA.errors.map((e) => e.code)).toEqual(['PEER_RESTARTED']);
    expect(atA.errors[0]!.message).toContain('restarted');
    // a may connect to the new b at once.
    const atB2 = record(b2);
    expect((await a.openConnection('b')).status).toBe(ConnectionStatus.CONNECTED);
    a.send('b', 'to the second b');
    await until('the new connection to work', 5000, () => atB2.messages.length === 1);
    expect(atB2.messages).toEqual(['to the second b']);
  });

  it('a RESET from the same instance (it closed, its CLOSE frames were lost) is a plain loss, not PEER_RESTARTED', async () => {
    const gate = new GateHub(new InBrowserHub());
    const hub = new ReliableHub(gate, { reconnectBaseMs: 10 });
    hubs.push(hub);
    const [a, b] = await pair(hub);
    const atA = record(a);
    gate.drop = (from, _to, frame) => from === 'b' && frame.type === 'close';
    b.closeConnection('a');
    await expect(a.sendAcknowledged('b', 'after the close')).rejects.toMatchObject({ code: 'NOT_CONNECTED' });
    expect(atA.lost).toEqual(['b']);
    expect(atA.errors).toEqual([]);
    expect(gate.log.some((e) => e.at === 'b' && e.dir === 'out' && e.frame.type === 'reset')).toBe(true);
    expect(gate.log.some((e) => e.at === 'b' && e.dir === 'out' && e.frame.type === 'close' && !e.dropped)).toBe(false);
  });

  it('reports the connection lost with TIMEOUT when it cannot be restored in time, on both sides', async () => {
    const { hub, unreliable } = chaosStack({}, { ...FAST_LIVENESS, restoreTimeoutMs: 400 });
    const [a, b] = await pair(hub);
    const atA = record(a);
    const atB = record(b);
    unreliable.chaos.blackhole('a', 'b');
    const acknowledged = a.sendAcknowledged('b', 'into the void');
    await expect(acknowledged).rejects.toMatchObject({ code: 'TIMEOUT' });
    await until('both lost-events', 10_000, () => atA.lost.length === 1 && atB.lost.length === 1);
    expect(atA.lost).toEqual(['b']);
    expect(atB.lost).toEqual(['a']);
    expect(atA.errors.map((e) => e.code)).toEqual(['TIMEOUT']);
    expect(atB.messages).toEqual([]);
    expect(() => a.send('b', 'x')).toThrow(expect.objectContaining({ code: 'NOT_CONNECTED' }));
  });

  it('reports a peer that vanished silently and never comes back, within restoreTimeoutMs', async () => {
    const unreliable = new UnreliableHub(new InBrowserHub(), { seed: 5 });
    const hubA = new ReliableHub(unreliable, { restoreTimeoutMs: 500, reconnectBaseMs: 20 });
    const hubB = new ReliableHub(unreliable);
    hubs.push(hubA, hubB);
    const a = hubA.openEndpoint('a');
    const b = hubB.openEndpoint('b');
    expect((await a.openConnection('b')).status).toBe(ConnectionStatus.CONNECTED);
    const atA = record(a);
    unreliable.chaos.blackhole('a', 'b');
    b.destroy();
    await until('the lost-event', 10_000, () => atA.lost.length === 1);
    expect(atA.lost).toEqual(['b']);
    expect(atA.errors.map((e) => e.code)).toEqual(['TIMEOUT']);
  });

  it('an open whose HELLO_ACKs were lost until the accepted side expired connects once the path heals (RESET, new handshake)', async () => {
    // b accepts a's HELLO, but nothing from b reaches a: b's half-open connection goes silent and expires, and a's
    // repeated HELLO is one b has seen. b answers it with a RESET, and a starts a new handshake instead of waiting
    // out its connectTimeoutMs (10 s).
    const { hub, unreliable } = chaosStack({}, { ...FAST_LIVENESS, restoreTimeoutMs: 300, initialRtoMs: 100, maxRtoMs: 200 });
    const a = hub.openEndpoint('a');
    const b = hub.openEndpoint('b');
    const atB = record(b);
    unreliable.chaos.blackhole('b', 'a', true, { oneWay: true });
    let healed = false;
    b.on('connectionLost', () => {
      unreliable.chaos.blackhole('b', 'a', false, { oneWay: true });
      healed = true;
    });
    const opened = a.openConnection('b');
    await until('the half-open connection to expire at b', 10_000, () => healed);
    expect(atB.lost).toEqual(['a']);
    expect(await opened).toEqual({ status: ConnectionStatus.CONNECTED, targetEva: 'b' });
    a.send('b', 'through');
    await until('the message', 5000, () => atB.messages.length === 1);
    expect(atB.messages).toEqual(['through']);
  });

  it('an open the peer accepted and closed before its HELLO_ACK arrived ends FAILED/UNAVAILABLE, and is not redone', async () => {
    const gate = new GateHub(new InBrowserHub());
    const hub = new ReliableHub(gate, { initialRtoMs: 50, maxRtoMs: 100 });
    hubs.push(hub);
    const a = hub.openEndpoint('a');
    const b = hub.openEndpoint('b');
    gate.drop = (_from, _to, frame) => frame.type === 'helloAck';
    b.on('connection', (peer: string) => b.closeConnection(peer));
    const event = await a.openConnection('b');
    expect(event).toEqual({ status: ConnectionStatus.FAILED, targetEva: 'b', reason: 'UNAVAILABLE' });
    expect(a.isConnected('b')).toBe(false);
    expect(b.isConnected('a')).toBe(false);
  });

  it('tells the peer promptly when the connection is closed, even over a lossy inner hub', async () => {
    const { hub } = chaosStack({ drop: 0.3 });
    const [a, b] = await pair(hub);
    const atB = record(b);
    a.closeConnection('b');
    await until('the lost-event', 5000, () => atB.lost.length === 1);
    expect(atB.lost).toEqual(['a']);
  });
});

describe('ReliableEndpoint.sendAcknowledged', () => {
  it('resolves once the peer application was handed the message', async () => {
    const { hub } = chaosStack({ drop: 0.3, seed: 11 });
    const [a, b] = await pair(hub);
    const atB = record(b);
    for (let i = 0; i < 10; i++) {
      await a.sendAcknowledged('b', `ack-${i}`);
      expect(atB.messages[atB.messages.length - 1]).toBe(`ack-${i}`);
    }
    expect(atB.messages).toHaveLength(10);
  });

  it('rejects with NOT_CONNECTED when the connection is closed first, and throws at the call like send', async () => {
    const { hub, unreliable } = chaosStack();
    const [a] = await pair(hub);
    unreliable.chaos.blackhole('a', 'b');
    const pending = a.sendAcknowledged('b', 'pending');
    a.closeConnection('b');
    await expect(pending).rejects.toMatchObject({ code: 'NOT_CONNECTED' });
    expect(() => a.sendAcknowledged('b', 'closed')).toThrow(expect.objectContaining({ code: 'NOT_CONNECTED' }));
  });

  it('rejects with the failure when handing the message to the inner endpoint ended the connection', async () => {
    const metered = new MeteredHub(new InBrowserHub());
    const hub = new ReliableHub(metered);
    hubs.push(hub);
    const [a] = await pair(hub);
    const atA = record(a);
    metered.meters.get('a')!.sendError = new VnfError('INTERNAL', 'The inner layer failed.');
    await expect(a.sendAcknowledged('b', 'doomed')).rejects.toMatchObject({ code: 'INTERNAL' });
    expect(atA.lost).toEqual(['b']);
    expect(atA.errors.map((e) => e.code)).toEqual(['INTERNAL']);
  });
});

describe('ReliableHub backpressure', () => {
  it('throws BUFFER_FULL when the send buffer is full, then emits drain once the peer caught up', async () => {
    const { hub, unreliable } = chaosStack({}, { maxBufferedMessages: 4 });
    const [a, b] = await pair(hub);
    const atB = record(b);
    const drains: string[] = [];
    a.on('drain', (peer) => drains.push(peer));
    unreliable.chaos.blackhole('a', 'b');
    for (let i = 0; i < 4; i++) a.send('b', `m${i}`);
    expect(a.bufferedAmount('b')).toBe(8);
    expect(() => a.send('b', 'one too many')).toThrow(expect.objectContaining({ code: 'BUFFER_FULL' }));
    unreliable.chaos.blackhole('a', 'b', false);
    await until('drain', 10_000, () => drains.length === 1);
    expect(drains).toEqual(['b']);
    expect(a.bufferedAmount('b')).toBeLessThanOrEqual(4);
    await until('all messages', 10_000, () => atB.messages.length === 4);
    expect(atB.messages).toEqual(['m0', 'm1', 'm2', 'm3']);
  });
});

/** An inner layer that counts `bufferedAmount` calls and can report its buffer as full. */
class MeteredHub extends DecoratorHub<MeteredEndpoint> {
  readonly meters = new Map<string, MeteredEndpoint>();

  protected override wrapEndpoint(inner: Endpoint, options: EndpointOptions): MeteredEndpoint {
    const endpoint = new MeteredEndpoint(inner, options);
    this.meters.set(endpoint.eva, endpoint);
    return endpoint;
  }
}

class MeteredEndpoint extends DecoratorEndpoint {
  bufferedAmountCalls = 0;
  full = false;
  /** When set, `send` throws it, as a failing inner layer would. */
  sendError: VnfError | null = null;

  override bufferedAmount(targetEva: string): number {
    this.bufferedAmountCalls++;
    return this.full ? Number.MAX_SAFE_INTEGER : super.bufferedAmount(targetEva);
  }

  protected override transmit(targetEva: string, message: unknown): void {
    if (this.sendError) throw this.sendError;
    super.transmit(targetEva, message);
  }

  /** Empties the pretended buffer and tells the layer above, as a socket that drained would. */
  drain(peer: string): void {
    this.full = false;
    this.emit('drain', peer);
  }
}

describe('ReliableHub pacing on the inner buffer', () => {
  it('reads the inner bufferedAmount once per burst of frames, not once per frame', async () => {
    const metered = new MeteredHub(new InBrowserHub());
    const hub = new ReliableHub(metered);
    hubs.push(hub);
    const [a, b] = await pair(hub);
    const atB = record(b);
    const inner = metered.meters.get('a')!;
    inner.full = true;
    const expected = Array.from({ length: 100 }, (_, i) => `m${i}`);
    for (const message of expected) a.send('b', message);
    // The inner drain releases all 100 frames in one burst.
    inner.bufferedAmountCalls = 0;
    inner.drain('b');
    expect(inner.bufferedAmountCalls).toBe(1);
    await until('all messages', 10_000, () => atB.messages.length === expected.length);
    expect(atB.messages).toEqual(expected);
  });
});

describe('ReliableHub handing frames to the inner endpoint', () => {
  it('hands a burst of sends over in one pass at the end of the turn, in order', async () => {
    const metered = new MeteredHub(new InBrowserHub());
    const hub = new ReliableHub(metered);
    hubs.push(hub);
    const [a, b] = await pair(hub);
    const atB = record(b);
    const inner = metered.meters.get('a')!;
    inner.bufferedAmountCalls = 0;
    const expected = Array.from({ length: 100 }, (_, i) => `m${i}`);
    for (const message of expected) a.send('b', message);
    expect(inner.bufferedAmountCalls).toBe(0);
    // The pass was queued by the first send, before this continuation.
    await Promise.resolve();
    expect(inner.bufferedAmountCalls).toBe(1);
    await until('all messages', 10_000, () => atB.messages.length === expected.length);
    expect(atB.messages).toEqual(expected);
  });

  it('sends what was sent in the same turn ahead of the CLOSE frames when the connection is closed', async () => {
    const gate = new GateHub(new InBrowserHub());
    const hub = new ReliableHub(gate);
    hubs.push(hub);
    const [a] = await pair(hub);
    gate.log.length = 0;
    a.send('b', 'last words');
    a.closeConnection('b');
    const sent = gate.log.filter((e) => e.at === 'a' && e.dir === 'out').map((e) => e.frame.type);
    expect(sent[0]).toBe('data');
    expect(sent.slice(1).every((type) => type === 'close')).toBe(true);
    expect(sent.length).toBeGreaterThan(1);
  });
});

describe('ReliableHub under a MarshallerHub', () => {
  it('BUFFER_FULL at the limit of messages is backpressure for the MarshallerHub: nothing is lost or reordered', async () => {
    const reliable = new ReliableHub(new InBrowserHub(), { maxBufferedMessages: 64 });
    const hub = new MarshallerHub(reliable);
    hubs.push(hub);
    const a = hub.openEndpoint('a');
    const b = hub.openEndpoint('b');
    const atA = record(a);
    const atB = record(b);
    expect((await a.openConnection('b')).status).toBe(ConnectionStatus.CONNECTED);
    const big = new Uint8Array(5 * 16 * 1024 + 7).map((_, i) => i * 7);
    const expected: string[] = [];
    for (let i = 0; i < 1000; i++) {
      a.send('b', `m${i}`);
      expected.push(`m${i}`);
      if (i === 10) a.send('b', big);
    }
    a.send('b', 'after');
    expected.push('after');
    await until('every message', 20_000, () => atB.messages.length === expected.length + 1 || atA.errors.length > 0);
    expect(atA.errors).toEqual([]);
    const strings = atB.messages.filter((m) => typeof m === 'string');
    expect(firstDifference(strings, expected)).toBe('no difference');
    const binaries = atB.messages.filter((m) => m instanceof Uint8Array) as Uint8Array[];
    expect(binaries).toHaveLength(1);
    expect(Buffer.from(binaries[0]!).equals(Buffer.from(big))).toBe(true);
  });
});

describe('ReliableHub protocol errors', () => {
  it('reports a frame that is not a ReliableHub frame as a PROTOCOL error and keeps working', async () => {
    const inner = new InBrowserHub();
    const hub = new ReliableHub(inner);
    hubs.push(hub);
    const b = hub.openEndpoint('b');
    const atB = record(b);
    const raw = inner.openEndpoint('raw');
    expect((await raw.openConnection('b')).status).toBe(ConnectionStatus.CONNECTED);
    raw.send('b', 'not a reliable frame');
    await until('the error', 5000, () => atB.errors.length === 1);
    expect(atB.errors[0]!.code).toBe('PROTOCOL');
    const a = hub.openEndpoint('a');
    expect((await a.openConnection('b')).status).toBe(ConnectionStatus.CONNECTED);
    a.send('b', 'fine');
    await until('a message', 5000, () => atB.messages.length === 1);
    expect(atB.connections).toEqual(['a']);
  });
});
