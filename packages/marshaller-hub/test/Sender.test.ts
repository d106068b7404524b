import { InBrowserHub } from '@vnf/in-browser-hub';
import { MarshallerHub } from '../src';
import { GatedHub } from './support/GatedHub';
import { Recorder, closeAll, connect, pattern, sameBytes, track, waitFor } from './support/helpers';

afterEach(closeAll);

const CHUNK = 4096;
const HIGH_WATER = 64 * 1024;

async function gatedPair(emitsDrain: boolean) {
  const gated = new GatedHub(new InBrowserHub(), emitsDrain);
  const hub = track(new MarshallerHub(gated, { chunkSize: CHUNK, highWaterMark: HIGH_WATER }));
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
  it('stops handing frames to the inner endpoint at highWaterMark and resumes on its drain', async () => {
    const { a, b, gate, atB } = await gatedPair(true);
    const size = 1024 * 1024;
    a.send(b.eva, pattern(size, 1));
    let releases = 0;
    while (a.bufferedAmount(b.eva) > gate.bufferedAmount(b.eva)) {
      // The sender still holds bytes of its own, so it must have filled the gate up to the mark and stopped there.
      expect(gate.bufferedAmount(b.eva)).toBeGreaterThanOrEqual(HIGH_WATER);
      expect(gate.bufferedAmount(b.eva)).toBeLessThan(HIGH_WATER + CHUNK);
      const before = a.bufferedAmount(b.eva);
      gate.release();
      releases++;
      expect(a.bufferedAmount(b.eva)).toBeLessThan(before);
    }
    gate.release();
    await atB.messageCount(1);
    expect(sameBytes(atB.messages[0], pattern(size, 1))).toBe(true);
    expect(releases).toBeGreaterThanOrEqual(Math.floor(size / (HIGH_WATER + CHUNK)));
    expect(gate.peakBuffered).toBeLessThan(HIGH_WATER + CHUNK);
    expect(gate.largestFrame).toBeLessThanOrEqual(CHUNK);
  }, 60_000);

  it('still makes progress when the inner layer never emits drain, and emits its own drain below the mark', async () => {
    const { a, b, gate, atB } = await gatedPair(false);
    const size = 256 * 1024;
    const drains: number[] = [];
    a.on('drain', () => drains.push(a.bufferedAmount(b.eva)));
    a.send(b.eva, pattern(size, 2));
    while (a.bufferedAmount(b.eva) > gate.bufferedAmount(b.eva)) {
      const next = gate.nextFrame();
      gate.release();
      await waitFor<void>('the sender to resume without a drain event', (done) => {
        void next.then(() => done());
        return () => {};
      });
    }
    gate.release();
    await atB.messageCount(1);
    expect(sameBytes(atB.messages[0], pattern(size, 2))).toBe(true);
    expect(gate.peakBuffered).toBeLessThan(HIGH_WATER + CHUNK);
    expect(drains.length).toBeGreaterThan(0);
    for (const buffered of drains) expect(buffered).toBeLessThan(HIGH_WATER);
  }, 60_000);
});
