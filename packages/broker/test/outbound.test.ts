import fc from 'fast-check';
import { RecordKind, readRecords } from '@vnf/protocol';
import { OutboundQueue } from '../src/outbound';

const decoder = new TextDecoder();
const encoder = new TextEncoder();

function records(frames: Uint8Array[]): [number, string, string][] {
  const out: [number, string, string][] = [];
  for (const frame of frames) {
    readRecords(frame, (kind, bytes, es, ee, ps, pe) => out.push([kind, decoder.decode(bytes.subarray(es, ee)), decoder.decode(bytes.subarray(ps, pe))]));
  }
  return out;
}

describe('OutboundQueue', () => {
  it('keeps relayed records and control messages in order, copying only the slice of the arrival frame', () => {
    const queue = new OutboundQueue();
    const arrived = encoder.encode('xxhelloyy');
    queue.push(RecordKind.TEXT, encoder.encode('alice'), arrived, 2, 7, 1 << 20);
    queue.controlText('{"t":"lost","from":"bob"}', 1 << 20);
    queue.push(RecordKind.TEXT, encoder.encode('bob'), encoder.encode('hé👋'), 0, 7, 1 << 20);
    arrived.fill(0); // the arrival frame is reused by the socket: what was queued is a copy
    expect(queue.isEmpty).toBe(false);
    const frames = queue.takeFrames();
    expect(frames).toHaveLength(1);
    expect(records(frames)).toEqual([
      [RecordKind.TEXT, 'alice', 'hello'],
      [RecordKind.CONTROL, '', '{"t":"lost","from":"bob"}'],
      [RecordKind.TEXT, 'bob', 'hé👋'],
    ]);
    expect(queue.isEmpty).toBe(true);
    expect(queue.bytes).toBe(0);
    expect(queue.takeFrames()).toEqual([]);
  });

  it('cuts frames at maxFrame, counts every queued byte, and gives a record larger than maxFrame a frame of its own', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: 40 }), fc.integer({ min: 64, max: 1024 }), (sizes, maxFrame) => {
        const queue = new OutboundQueue();
        const eva = encoder.encode('peer');
        let expected = 0;
        sizes.forEach((size, i) => {
          const payload = new Uint8Array(size).fill(i & 0xff);
          queue.push(RecordKind.BINARY, eva, payload, 0, size, maxFrame);
          expected += 7 + eva.byteLength + size;
        });
        expect(queue.bytes).toBe(expected);
        const frames = queue.takeFrames();
        expect(frames.reduce((n, f) => n + f.byteLength, 0)).toBe(expected);
        for (const frame of frames) {
          const count = readRecords(frame, () => {});
          if (frame.byteLength > maxFrame) expect(count).toBe(1);
        }
        const sizesOut: number[] = [];
        for (const frame of frames) readRecords(frame, (_k, bytes, _es, _ee, ps, pe) => sizesOut.push(pe - ps));
        expect(sizesOut).toEqual(sizes);
      }),
    );
  });
});
