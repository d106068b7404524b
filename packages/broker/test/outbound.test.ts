import fc from 'fast-check';
import { RecordKind, readRecords } from '@vnf/protocol';
import { OutboundQueue, SharedRecords } from '../src/outbound';

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

  it('sends a group record written once to each of its targets, and a target only the records meant for it, in order', () => {
    const shared = new SharedRecords(0);
    const [a, b] = [new OutboundQueue(), new OutboundQueue()];
    const alice = encoder.encode('alice');
    // Payloads long enough that each run is a good part of the shared buffer (see the pinning test below).
    const long = (text: string) => text.padEnd(520, '.');
    const group = (text: string, ...queues: OutboundQueue[]) => {
      const payload = encoder.encode(long(text));
      const start = shared.length;
      shared.write(RecordKind.TEXT, alice, payload, 0, payload.byteLength);
      for (const queue of queues) queue.pushShared(shared, start, shared.length, 1 << 20);
    };
    group('one', a, b);
    a.controlText('{"t":"open","from":"carol"}', 1 << 20);
    group('two, for b alone', b);
    group('three', a, b);
    a.push(RecordKind.TEXT, encoder.encode('dave'), encoder.encode('unicast'), 0, 7, 1 << 20);
    // Each record: 7 header bytes, its eva, its payload.
    expect(a.bytes).toBe(7 + 5 + 520 + (7 + 27) + (7 + 5 + 520) + (7 + 4 + 7));
    const [framesA, framesB] = [a.takeFrames(), b.takeFrames()];
    expect(records(framesA)).toEqual([
      [RecordKind.TEXT, 'alice', long('one')],
      [RecordKind.CONTROL, '', '{"t":"open","from":"carol"}'],
      [RecordKind.TEXT, 'alice', long('three')],
      [RecordKind.TEXT, 'dave', 'unicast'],
    ]);
    expect(records(framesB)).toEqual([
      [RecordKind.TEXT, 'alice', long('one')],
      [RecordKind.TEXT, 'alice', long('two, for b alone')],
      [RecordKind.TEXT, 'alice', long('three')],
    ]);
    // b's three records are one run of the shared records; a's first one is a view of the same bytes, not a copy,
    // and what follows it (its own records and a group record that does not follow on) is one frame of its own.
    expect(framesB).toHaveLength(1);
    expect(framesA).toHaveLength(2);
    expect(framesA[0].buffer).toBe(framesB[0].buffer);
    expect(framesA[0].byteOffset).toBe(framesB[0].byteOffset);
  });

  it('copies a shared run that is a small part of its buffer: a lagging socket pins at most 8 times what it is charged', () => {
    const alice = encoder.encode('alice');
    const big = new Uint8Array(64 * 1024).fill(0x61);
    // A busy turn: 64 KiB for the room, and one small record for a socket that is in another group too.
    const shared = new SharedRecords(0);
    const [room, lone] = [new OutboundQueue(), new OutboundQueue()];
    shared.write(RecordKind.BINARY, alice, big, 0, big.byteLength);
    room.pushShared(shared, 0, shared.length, 1 << 20);
    const small = shared.length;
    shared.write(RecordKind.TEXT, alice, encoder.encode('hi'), 0, 2);
    lone.pushShared(shared, small, shared.length, 1 << 20);
    room.pushShared(shared, small, shared.length, 1 << 20);
    expect(lone.bytes).toBe(7 + 5 + 2);
    const [roomFrames, loneFrames] = [room.takeFrames(), lone.takeFrames()];
    expect(records(loneFrames)).toEqual([[RecordKind.TEXT, 'alice', 'hi']]);
    // The small run is a copy with memory of its own; the room's run, most of the buffer, stays a view of it.
    expect(loneFrames[0].buffer.byteLength).toBe(7 + 5 + 2);
    expect(roomFrames).toHaveLength(1);
    expect(roomFrames[0].byteLength * 8).toBeGreaterThanOrEqual(roomFrames[0].buffer.byteLength);
    expect(roomFrames[0].buffer).not.toBe(loneFrames[0].buffer);
    expect(records(roomFrames).map(([kind, eva, payload]) => [kind, eva, payload.length])).toEqual([
      [RecordKind.BINARY, 'alice', big.byteLength],
      [RecordKind.TEXT, 'alice', 2],
    ]);
  });

  it('a socket that gets unicast and group records interleaved gets them in one frame', () => {
    const shared = new SharedRecords(0);
    const queue = new OutboundQueue();
    const alice = encoder.encode('alice');
    const expected: string[] = [];
    for (let i = 0; i < 20; i++) {
      const group = encoder.encode(`group${i}`);
      const start = shared.length;
      shared.write(RecordKind.TEXT, alice, group, 0, group.byteLength);
      queue.pushShared(shared, start, shared.length, 1 << 20);
      queue.push(RecordKind.TEXT, alice, encoder.encode(`sent${i}`), 0, `sent${i}`.length, 1 << 20);
      expected.push(`group${i}`, `sent${i}`);
    }
    const frames = queue.takeFrames();
    expect(records(frames).map(([, , text]) => text)).toEqual(expected);
    // The first group record is shared; everything after it is copied into one frame.
    expect(frames).toHaveLength(2);
  });

  it('holds any mix of own and shared records in order, counted, and cut at maxFrame', () => {
    const op = fc.record({ shared: fc.boolean(), size: fc.integer({ min: 0, max: 200 }), targets: fc.subarray([0, 1, 2], { minLength: 1 }) });
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 40 }), fc.integer({ min: 64, max: 600 }), (ops, maxFrame) => {
        let shared = new SharedRecords(16);
        const queues = [new OutboundQueue(), new OutboundQueue(), new OutboundQueue()];
        const expected: string[][] = [[], [], []];
        const eva = encoder.encode('src');
        ops.forEach(({ shared: isShared, size, targets }, n) => {
          const text = String(n).padEnd(size, '.');
          const payload = encoder.encode(text);
          if (isShared) {
            const start = shared.length;
            shared.write(RecordKind.TEXT, eva, payload, 0, payload.byteLength);
            for (const t of targets) queues[t].pushShared(shared, start, shared.length, maxFrame);
          } else {
            for (const t of targets) queues[t].push(RecordKind.TEXT, eva, payload, 0, payload.byteLength, maxFrame);
          }
          for (const t of targets) expected[t].push(text);
          // Now and then a new turn's shared records, as Relay starts every turn.
          if (n % 7 === 6) shared = new SharedRecords(16);
        });
        queues.forEach((queue, t) => {
          const bytes = expected[t].reduce((sum, text) => sum + 7 + 3 + encoder.encode(text).byteLength, 0);
          expect(queue.bytes).toBe(bytes);
          const frames = queue.takeFrames();
          expect(frames.reduce((sum, frame) => sum + frame.byteLength, 0)).toBe(bytes);
          for (const frame of frames) if (frame.byteLength > maxFrame) expect(readRecords(frame, () => {})).toBe(1);
          expect(records(frames).map(([, , text]) => text)).toEqual(expected[t]);
          expect(queue.isEmpty).toBe(true);
        });
      }),
    );
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
