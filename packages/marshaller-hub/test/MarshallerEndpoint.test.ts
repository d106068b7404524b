import { trackResources } from '@vnf/conformance';
import { InBrowserHub } from '@vnf/in-browser-hub';
import { MarshallerHub } from '../src';
import { GatedHub } from './support/GatedHub';
import type { MarshallerEndpoint } from '../src';
import { Recorder, closeAll, connect, marshallerPair, pattern, sameBytes, track, waitFor } from './support/helpers';

afterEach(closeAll);

const BIG = 5 * 1024 * 1024;

describe('connection loss during a transfer', () => {
  it('the sender closing mid-transfer: the receiver discards the half message and reports it; a new connection starts clean', async () => {
    const { a, b, atA, atB } = await marshallerPair();
    a.send(b.eva, pattern(BIG, 1));
    // Part of the message was handed over synchronously; the rest is still queued in `a`.
    expect(a.bufferedAmount(b.eva)).toBeGreaterThan(0);
    a.closeConnection(b.eva);
    expect(a.bufferedAmount(b.eva)).toBe(0);
    await atB.until('lost and error', () => atB.events.includes(`lost:${a.eva}`) && atB.errors.length === 1);
    expect(atB.errors[0].code).toBe('UNAVAILABLE');
    expect(atB.errors[0].details).toMatchObject({ discarded: 1 });
    expect(atB.messages.length).toBe(0);
    // Closing on purpose is not an error on the closing side.
    expect(atA.errors).toEqual([]);

    await connect(a, b);
    a.send(b.eva, pattern(BIG, 2));
    a.send(b.eva, 'after');
    await atB.messageCount(2);
    expect(atB.messages[0]).toBe('after');
    expect(sameBytes(atB.messages[1], pattern(BIG, 2))).toBe(true);
  }, 60_000);

  it('the receiver leaving mid-transfer: the sender reports the messages it could not finish', async () => {
    const { a, b, atA } = await marshallerPair();
    a.send(b.eva, pattern(BIG, 3));
    a.send(b.eva, pattern(BIG, 4));
    b.destroy();
    await atA.until('lost and error', () => atA.events.includes(`lost:${b.eva}`) && atA.errors.length === 1);
    expect(atA.errors[0].code).toBe('UNAVAILABLE');
    expect(atA.errors[0].details).toMatchObject({ peer: b.eva, unsent: 2 });
    expect(a.bufferedAmount(b.eva)).toBe(0);
  }, 60_000);
});

describe('destroy', () => {
  it('clears every timer: reassembly timers and a sender paused on backpressure', async () => {
    const resources = trackResources();
    // A gate that never emits drain but refuses frames past two: the sender retries on its blind timer.
    const gated = new GatedHub(new InBrowserHub(), false, 2);
    const hub = track(new MarshallerHub(gated, { chunkSize: 1024 }));
    const a = hub.openEndpoint('a');
    const b = hub.openEndpoint('b');
    const atB = new Recorder(b);
    await connect(a, b);
    const gate = gated.openEndpoint('a');
    const gateB = gated.openEndpoint('b');
    a.send(b.eva, pattern(100_000));
    // Let the first frames through so `b` has a transfer in progress (with its reassembly timer),
    // while `a` stays paused on the gate's BUFFER_FULL (retrying on a timer, as this gate never emits drain).
    const framesAtB = waitFor<void>('frames to reach b', (done) => {
      const listener = (): void => done();
      gateB.on('message', listener);
      return () => gateB.off('message', listener);
    });
    gate.release();
    await framesAtB;
    expect(resources.count('Timeout')).toBeGreaterThanOrEqual(2);
    expect(atB.messages.length).toBe(0);
    a.destroy();
    b.destroy();
    expect(resources.describe()).toBe('nothing the test created is still alive');
    resources.stop();
    expect(() => a.send(b.eva, 'x')).toThrow(expect.objectContaining({ code: 'DESTROYED' }));
  });
});

describe('multicast', () => {
  /** a, b and c of a MarshallerHub over a GatedHub (frames held until released) over an InBrowserHub. */
  async function gatedGroup(options = {}) {
    const gated = new GatedHub(new InBrowserHub());
    const hub = track(new MarshallerHub(gated, { chunkSize: 1024, ...options }));
    const [a, b, c] = ['a', 'b', 'c'].map((eva) => hub.openEndpoint(eva)) as [MarshallerEndpoint, MarshallerEndpoint, MarshallerEndpoint];
    const atB = new Recorder(b);
    const atC = new Recorder(c);
    await connect(a, b);
    await connect(a, c);
    return { a, b, c, atB, atC, gate: gated.openEndpoint('a') };
  }

  it('frames a message that fits one chunk once, for every target in one inner multicast', async () => {
    const { a, atB, atC, gate } = await gatedGroup();
    const multicasts: string[][] = [];
    const multicast = gate.multicast;
    gate.multicast = (targets, message) => {
      multicasts.push([...targets]);
      multicast(targets, message);
    };
    a.multicast(['b', 'c'], { small: [1, 2, 3] });
    expect(multicasts).toEqual([['b', 'c']]);
    expect(gate.held.map((h) => h.peer)).toEqual(['b', 'c']);
    expect(gate.held[0]!.frame).toBe(gate.held[1]!.frame);
    expect(gate.held[0]!.frame[0]).toBe(0x01);
    gate.release();
    await atB.messageCount(1);
    await atC.messageCount(1);
    expect(atB.messages).toEqual([{ small: [1, 2, 3] }]);
    expect(atC.messages).toEqual([{ small: [1, 2, 3] }]);
  });

  it('cuts a larger message for each target (chunk ids are per connection), serialized once', async () => {
    const { a, atB, atC, gate } = await gatedGroup();
    const multicasts: string[][] = [];
    const multicast = gate.multicast;
    gate.multicast = (targets, message) => {
      multicasts.push([...targets]);
      multicast(targets, message);
    };
    const big = pattern(5000, 9);
    a.multicast(['b', 'c'], big);
    expect(multicasts).toEqual([]);
    expect(new Set(gate.held.map((h) => h.peer))).toEqual(new Set(['b', 'c']));
    expect(gate.held.every((h) => h.frame.byteLength <= 1024)).toBe(true);
    gate.release();
    await atB.messageCount(1);
    await atC.messageCount(1);
    expect(sameBytes(atB.messages[0], big)).toBe(true);
    expect(sameBytes(atC.messages[0], big)).toBe(true);
  });

  it('waits its turn behind what a target\'s queue still holds, so it arrives in call order with sends; others get it at once', async () => {
    const { a, atB, atC, gate } = await gatedGroup();
    // Past the gate's high mark: the sender toward b waits for its drain, with frames still queued.
    a.send('b', pattern(200_000, 1));
    expect(a.bufferedAmount('b')).toBeGreaterThan(gate.bufferedAmount('b'));
    a.send('b', 'sent1');
    a.multicast(['b', 'c'], 'group');
    a.send('b', 'sent2');
    expect(gate.held.filter((h) => h.peer === 'c')).toHaveLength(1);
    while (atB.messages.length < 4) {
      gate.release();
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(atB.messages.filter((m) => typeof m === 'string')).toEqual(['sent1', 'group', 'sent2']);
    await atC.messageCount(1);
    expect(atC.messages).toEqual(['group']);
  });

  it('throws INVALID_PAYLOAD and TOO_LARGE at the call, whether or not a target is connected', async () => {
    const { a, atB, gate } = await gatedGroup({ maxMessageSize: 100 });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const targets of [['b'], [], ['nobody']]) {
      expect(() => a.multicast(targets, cyclic)).toThrow(expect.objectContaining({ code: 'INVALID_PAYLOAD' }));
      expect(() => a.multicast(targets, 'x'.repeat(101))).toThrow(expect.objectContaining({ code: 'TOO_LARGE' }));
    }
    expect(gate.held).toEqual([]);
    a.multicast(['b'], 'fine');
    gate.release();
    await atB.messageCount(1);
    expect(atB.messages).toEqual(['fine']);
  });
});
