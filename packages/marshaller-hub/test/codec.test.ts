import fc from 'fast-check';
import { decodeMessage, encodeMessage, isPlainJson } from '../src/codec';

function body(value: unknown): Uint8Array {
  const { parts, size } = encodeMessage(value, 1 << 30);
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}

describe('the plain JSON fast path', () => {
  it('gives exactly JSON.stringify for plain values, and they round-trip', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        // fc.jsonValue may produce -0, which JSON writes as 0: compare with what JSON itself round-trips.
        const expected = JSON.parse(JSON.stringify(value));
        if (typeof value === 'string' || !isPlainJson(value, 0)) return;
        const bytes = body(value);
        expect(new TextDecoder().decode(bytes.subarray(1))).toBe(JSON.stringify(value));
        expect(decodeMessage(bytes)).toEqual(expected);
      }),
    );
  });

  it('leaves out undefined properties, as JSON.stringify does', () => {
    expect(isPlainJson({ a: 1, b: undefined, c: { d: undefined } }, 0)).toBe(true);
    expect(decodeMessage(body({ a: 1, b: undefined }))).toEqual({ a: 1 });
  });

  it.each([
    ['NaN', { n: Number.NaN }],
    ['Infinity', [Number.POSITIVE_INFINITY]],
    ['an undefined array element', [1, undefined]],
    ['a hole', [1, , 3]], // eslint-disable-line no-sparse-arrays
    ['a string starting with NUL', { s: '\u0000x' }],
    ['binary', { b: new Uint8Array([1]) }],
    ['a Buffer', [Buffer.from('x')]],
    ['a Map', { m: new Map() }],
    ['a Date (toJSON)', { d: new Date(0) }],
    ['a class instance', { c: new (class Point { x = 1; })() }],
    ['a function', { f: () => 1 }],
    ['a bigint', { n: BigInt(1) }],
  ])('sends %s down the replacer path, which carries it or refuses it as before', (_what, value) => {
    expect(isPlainJson(value, 0)).toBe(false);
  });

  it('sends nesting deeper than it walks down the replacer path, and a cycle to its precise error', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 1500; i++) deep = [deep];
    expect(isPlainJson(deep, 0)).toBe(false);
    expect(decodeMessage(body(deep))).toEqual(deep);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => encodeMessage(cyclic, 1 << 20)).toThrow(expect.objectContaining({ code: 'INVALID_PAYLOAD' }));
  });
});
