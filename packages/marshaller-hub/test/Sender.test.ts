import { InBrowserHub } from '@vnf/in-browser-hub';
import { MarshallerHub } from '../src';
import { GatedHub } from './support/GatedHub';
import { Recorder, closeAll, connect, pattern, sameBytes, track, waitFor } from './support/helpers';

afterEach(closeAll);

const CHUNK = 4096;
const HIGH_WATER = 64 * 1024;

async function gatedPair(emitsDrain: boolean, maxHeldFrames = Infinity) {
  // The gate's highWaterMark is where the sender stops handing it frames (the gate then owes a drain).
  const gated = new GatedHub(new InBrowserHub(), emitsDrain, maxHeldFrames, HIGH_WATER);
  const hub = track(new MarshallerHub(gated, { chunkSize: CHUNK }));
  const a = hub.openEndpoint('a');
  const b = hub.openEndpoint('b');
  // The MarshallerHub opened 'a' on the gated hub as shareable: opening it again returns that very endpoint.
  const gate = gated.openEndpoint('a');
  const atA = new Recorder(a);
  const atB = new Recorder(b);
  await connect(a, b);
  return { a, b, gate, atA, atB };
}

describe('backpressure', () => {
  it("stops handing frames to the inner endpoint past the inner hub's highWaterMark and resumes on its drain", async () => {
    const { a, b, gate, atB } = await gatedPair(true);
    const size = 1024 * 1024;
    a.send(b.eva, pattern(size, 1));
    let releases = 0;
    while (a.bufferedAmount(b.eva) > gate.bufferedAmount(b.eva)) {
      // The sender still holds bytes of its own, so it must have filled the gate up to the mark and stopped there.
      expect(gate.bufferedAmount(b.eva)).toBeGreaterThan(HIGH_WATER);
      expect(gate.bufferedAmount(b.eva)).toBeLessThanOrEqual(HIGH_WATER + CHUNK);
      const before = a.bufferedAmount(b.eva);
      gate.release();
      releases++;
      expect(a.bufferedAmount(b.eva)).toBeLessThan(before);
    }
    gate.release();
    await atB.messageCount(1);
    expect(sameBytes(atB.messages[0], pattern(size, 1))).toBe(true);
    expect(releases).toBeGreaterThanOrEqual(Math.floor(size / (HIGH_WATER + CHUNK)));
    expect(gate.peakBuffered).toBeLessThanOrEqual(HIGH_WATER + CHUNK);
    expect(gate.largestFrame).toBeLessThanOrEqual(CHUNK);
  }, 60_000);

  it('over an inner hub with no drain signal (an infinite highWaterMark), hands everything over in bursts, in order', async () => {
    const { a, b, gate, atB } = await gatedPair(false);
    const size = 1024 * 1024;
    a.send(b.eva, pattern(size, 2));
    // Nothing says when such a layer drains: the sender does not wait on its buffer, it only yields between bursts.
    await waitFor<void>('every frame handed to the gate', (done) => {
      const check = (): void => (a.bufferedAmount(b.eva) === gate.bufferedAmount(b.eva) ? done() : void gate.nextFrame().then(check));
      check();
      return () => {};
    });
    gate.release();
    await atB.messageCount(1);
    expect(sameBytes(atB.messages[0], pattern(size, 2))).toBe(true);
    expect(gate.largestFrame).toBeLessThanOrEqual(CHUNK);
  }, 60_000);
});

describe('BUFFER_FULL from the inner endpoint', () => {
  // The gate refuses a frame with BUFFER_FULL while it holds MAX_HELD, far below highWaterMark in bytes: the
  // sender must keep the frame it cut, send it first once the gate drains, and drop nothing.
  const MAX_HELD = 3;

  async function sendThroughFullGate(emitsDrain: boolean): Promise<void> {
    const { a, b, gate, atA, atB } = await gatedPair(emitsDrain, MAX_HELD);
    const big = pattern(10 * CHUNK + 123, 3);
    const expected: unknown[] = [];
    for (let i = 0; i < 20; i++) {
      a.send(b.eva, `small ${i}`);
      expected.push(`small ${i}`);
      if (i === 5) {
        a.send(b.eva, big);
        expected.push(big);
      }
    }
    a.send(b.eva, 'after');
    expected.push('after');
    expect(gate.refused).toBeGreaterThan(0);
    expect(gate.held.length).toBe(MAX_HELD);
    // Nothing was dropped: the sender still counts what it could not hand over.
    expect(a.bufferedAmount(b.eva)).toBeGreaterThan(gate.bufferedAmount(b.eva));
    while (a.bufferedAmount(b.eva) > gate.bufferedAmount(b.eva)) {
      const next = gate.nextFrame();
      gate.release();
      await waitFor<void>('the sender to offer the refused frame again', (done) => {
        void next.then(() => done());
        return () => {};
      });
      expect(gate.held.length).toBeLessThanOrEqual(MAX_HELD);
    }
    gate.release();
    await atB.messageCount(expected.length);
    expect(atA.errors).toEqual([]);
    expect(atB.errors).toEqual([]);
    // The large message interleaves with the small ones, which keep their order; nothing is missing or doubled.
    const received = atB.messages;
    expect(received.filter((m) => typeof m === 'string')).toEqual(expected.filter((m) => typeof m === 'string'));
    const binaries = received.filter((m) => m instanceof Uint8Array);
    expect(binaries).toHaveLength(1);
    expect(sameBytes(binaries[0], big)).toBe(true);
  }

  it('is backpressure: the refused frame is kept and sent first on the inner drain, nothing is dropped', async () => {
    await sendThroughFullGate(true);
  }, 60_000);

  it('is retried without a drain event too', async () => {
    await sendThroughFullGate(false);
  }, 60_000);
});
