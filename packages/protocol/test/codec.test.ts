import fc from 'fast-check';
import { FrameWriter, RecordKind, checkRecords, readRecords, recordCapacity } from '../src';

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function read(frame: Uint8Array): { kind: number; eva: string; payload: Uint8Array }[] {
  const out: { kind: number; eva: string; payload: Uint8Array }[] = [];
  readRecords(frame, (kind, bytes, es, ee, ps, pe) => out.push({ kind, eva: decoder.decode(bytes.subarray(es, ee)), payload: bytes.slice(ps, pe) }));
  return out;
}

describe('record codec', () => {
  it('round-trips strings (unicode, empty) and binary through FrameWriter', () => {
    const writer = new FrameWriter(8);
    writer.writeRecord(RecordKind.TEXT, 'bob', 'héllo 👋');
    writer.writeRecord(RecordKind.TEXT, 'ünï', '');
    writer.writeRecord(RecordKind.BINARY, 'bob', new Uint8Array([0, 255, 7]));
    writer.writeRecord(RecordKind.CONTROL, '', '{"t":"open","to":"x"}');
    const records = read(writer.finish());
    expect(records.map((r) => [r.kind, r.eva, r.kind === RecordKind.BINARY ? [...r.payload] : decoder.decode(r.payload)])).toEqual([
      [RecordKind.TEXT, 'bob', 'héllo 👋'],
      [RecordKind.TEXT, 'ünï', ''],
      [RecordKind.BINARY, 'bob', [0, 255, 7]],
      [RecordKind.CONTROL, '', '{"t":"open","to":"x"}'],
    ]);
  });

  it('writeSlice writes what writeRecord writes for the same bytes, taking only the slice', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ eva: fc.string({ minLength: 1, maxLength: 20 }), before: fc.uint8Array({ maxLength: 8 }), payload: fc.uint8Array({ maxLength: 64 }), after: fc.uint8Array({ maxLength: 8 }) }), { minLength: 1, maxLength: 8 }),
        (items) => {
          const whole = new FrameWriter(1);
          const sliced = new FrameWriter(1);
          for (const { eva, before, payload, after } of items) {
            whole.writeRecord(RecordKind.BINARY, eva, payload);
            const source = new Uint8Array([...before, ...payload, ...after]);
            sliced.writeSlice(RecordKind.BINARY, new TextEncoder().encode(eva), source, before.length, before.length + payload.length);
          }
          expect(Buffer.from(sliced.finish())).toEqual(Buffer.from(whole.finish()));
        },
      ),
    );
  });

  it('recordCapacity is an upper bound of what a record takes', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 50 }), fc.string({ maxLength: 200 }), (eva, text) => {
        const writer = new FrameWriter(1);
        writer.writeRecord(RecordKind.TEXT, eva, text);
        expect(writer.length).toBeLessThanOrEqual(recordCapacity(eva, text));
      }),
    );
  });

  it.each([
    ['an empty frame', new Uint8Array(0)],
    ['a cut header', new Uint8Array([1, 0])],
    ['an unknown kind', new Uint8Array([9, 0, 1, 97, 0, 0, 0, 0])],
    ['a message record without eva', new Uint8Array([1, 0, 0, 0, 0, 0, 0])],
    ['a control record with an eva', new Uint8Array([0, 0, 1, 97, 0, 0, 0, 0])],
    ['a payload past the end', new Uint8Array([1, 0, 1, 97, 0, 0, 0, 5, 1])],
  ])('rejects %s as PROTOCOL without visiting any record', (_what, frame) => {
    const visit = jest.fn();
    expect(() => readRecords(frame, visit)).toThrow(expect.objectContaining({ code: 'PROTOCOL' }));
    expect(visit).not.toHaveBeenCalled();
  });

  it('a valid record followed by garbage is rejected whole', () => {
    const writer = new FrameWriter();
    writer.writeRecord(RecordKind.TEXT, 'bob', 'hi');
    const frame = new Uint8Array([...writer.finish(), 1, 2]);
    const visit = jest.fn();
    expect(() => readRecords(frame, visit)).toThrow(expect.objectContaining({ code: 'PROTOCOL' }));
    expect(visit).not.toHaveBeenCalled();
  });
});

describe('group records', () => {
  const frame = (): Uint8Array => {
    const writer = new FrameWriter();
    writer.writeRecord(RecordKind.GROUP_TEXT, 'g0', 'hi');
    writer.writeRecord(RecordKind.GROUP_BINARY, 'g0', new Uint8Array([1]));
    return writer.finish();
  };

  it('are accepted only when the reader offers groups (a broker that announced them)', () => {
    expect(() => checkRecords(frame())).toThrow(expect.objectContaining({ code: 'PROTOCOL' }));
    expect(checkRecords(frame(), true)).toBe(2);
  });

  it('need a group id, and kinds above GROUP_BINARY stay unknown', () => {
    // kind 3, an id of 0 bytes, an empty payload.
    expect(() => checkRecords(new Uint8Array([3, 0, 0, 0, 0, 0, 0]), true)).toThrow(expect.objectContaining({ code: 'PROTOCOL' }));
    const five = frame().slice();
    five[0] = 5;
    expect(() => checkRecords(five, true)).toThrow(expect.objectContaining({ code: 'PROTOCOL' }));
  });
});
