import { INC_LENGTH, MAX_SEQ, decodeFrame, encodeBroadcast, encodeControl, encodeDirect, newIncarnation, type Control } from '../src/frames';

const INC = 'abc12345';

describe('room frames', () => {
  it('a new incarnation is 8 base-36 characters, different each time', () => {
    const incs = new Set(Array.from({ length: 50 }, () => newIncarnation()));
    expect(incs.size).toBe(50);
    for (const inc of incs) expect(inc).toMatch(new RegExp(`^[0-9a-z]{${INC_LENGTH}}$`));
  });

  it('broadcasts round-trip in the body\'s own form: string, binary and JSON values', () => {
    expect(decodeFrame(encodeBroadcast(INC, 0, 'hi'))).toEqual({ kind: 'broadcast', inc: INC, seq: 0, body: 'hi' });
    expect(decodeFrame(encodeBroadcast(INC, 123456, 'with: colons'))).toEqual({ kind: 'broadcast', inc: INC, seq: 123456, body: 'with: colons' });
    expect(decodeFrame(encodeBroadcast(INC, MAX_SEQ, ''))).toEqual({ kind: 'broadcast', inc: INC, seq: MAX_SEQ, body: '' });
    const binary = encodeBroadcast(INC, 70000, Uint8Array.of(1, 2, 3));
    expect(binary).toBeInstanceOf(Uint8Array);
    expect(decodeFrame(binary)).toEqual({ kind: 'broadcast', inc: INC, seq: 70000, body: Uint8Array.of(1, 2, 3) });
    expect(decodeFrame(encodeBroadcast(INC, 5, { a: [1, null] }))).toEqual({ kind: 'broadcast', inc: INC, seq: 5, body: { a: [1, null] } });
  });

  it('direct messages round-trip the same way', () => {
    expect(decodeFrame(encodeDirect('x'))).toEqual({ kind: 'direct', body: 'x' });
    expect(decodeFrame(encodeDirect(Uint8Array.of(9)))).toEqual({ kind: 'direct', body: Uint8Array.of(9) });
    expect(decodeFrame(encodeDirect({ k: 1 }))).toEqual({ kind: 'direct', body: { k: 1 } });
  });

  it('control frames round-trip, and malformed ones are refused', () => {
    for (const control of [
      { t: 'hello', i: INC, n: 3 },
      { t: 'hello', i: INC, n: 3, s: 7 },
      { t: 'hey', i: INC },
      { t: 'nack', i: INC, r: [[2, 9], [12, 12]] },
      { t: 'hi', i: INC, s: 40 },
      { t: 'gone', i: INC, upTo: 7 },
    ] satisfies Control[]) {
      expect(decodeFrame(encodeControl(control))).toEqual({ kind: 'control', control });
    }
    for (const r of ['[[9,2]]', '[]', '[[1,2],[2,3]]', '[[1]]', '[[-1,2]]']) expect(decodeFrame(`{"t":"nack","i":"abc12345","r":${r}}`)).toBeNull();
    expect(decodeFrame('{"t":"hello","i":"short","n":1}')).toBeNull();
    expect(decodeFrame('{"t":"what","i":"abc12345"}')).toBeNull();
    expect(decodeFrame('{not json')).toBeNull();
  });

  it('refuses what is not a room frame', () => {
    for (const bad of ['', 'X', 'Babc1234', 'BABC12345:x', 'Babc12345:x', `B${INC}zzzzzzzz:x`, 42, null, {}, ['B', INC, -1, 'x'], ['B', 'bad', 1, 'x'], new Uint8Array(0), Uint8Array.of(1, 2)]) {
      expect(decodeFrame(bad)).toBeNull();
    }
  });
});
