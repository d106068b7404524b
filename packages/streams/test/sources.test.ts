import { toChunkSource } from '../src/sources';

const MAX = 65_536;

function patterned(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 7 + seed) & 255);
}

async function* chunksOf(...chunks: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const chunk of chunks) yield chunk;
}

describe('a source of chunks (an async iterable, a ReadableStream)', () => {
  it('fills a frame across two chunks by copying only what that frame takes; the rest of the chunk stays a view', async () => {
    const a = patterned(100_000, 1);
    const b = patterned(200_000, 2);
    const source = toChunkSource(chunksOf(a, b));
    const frames: Uint8Array[] = [];
    for (let frame = await source.read(0, MAX); frame !== null; frame = await source.read(0, MAX)) frames.push(frame);

    expect(frames.map((frame) => frame.byteLength)).toEqual([MAX, MAX, MAX, MAX, 300_000 - 4 * MAX]);
    expect(frames[0]!.buffer).toBe(a.buffer);
    // The second frame joins a's tail and b's start: a copy of 64 KiB, not of the whole of b.
    expect(frames[1]!.buffer).not.toBe(a.buffer);
    expect(frames[1]!.buffer.byteLength).toBe(MAX);
    for (const frame of frames.slice(2)) expect(frame.buffer).toBe(b.buffer);

    const all = new Uint8Array(300_000);
    let at = 0;
    for (const frame of frames) {
      all.set(frame, at);
      at += frame.byteLength;
    }
    const expected = new Uint8Array(300_000);
    expected.set(a);
    expected.set(b, a.byteLength);
    expect(Buffer.from(all).equals(Buffer.from(expected))).toBe(true);
  });

  it('a chunk that fits in the tail\'s frame is taken whole, and the next read starts a new chunk', async () => {
    const a = patterned(MAX + 10, 3);
    const b = patterned(20, 4);
    const c = patterned(MAX, 5);
    const source = toChunkSource(chunksOf(a, b, c));
    const frames: Uint8Array[] = [];
    for (let frame = await source.read(0, MAX); frame !== null; frame = await source.read(0, MAX)) frames.push(frame);
    expect(frames.map((frame) => frame.byteLength)).toEqual([MAX, 30, MAX]);
    expect(Array.from(frames[1]!)).toEqual([...Array.from(a.subarray(MAX)), ...Array.from(b)]);
    expect(frames[2]!.buffer).toBe(c.buffer);
  });
});
