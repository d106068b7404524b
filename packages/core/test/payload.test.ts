import { copyBinary, decodeUtf8, payloadByteLength, toUint8Array, utf8Length, validateWirePayload, VnfError } from '../src';

describe('payload rules', () => {
  it('counts UTF-8 bytes as TextEncoder does', () => {
    for (const s of ['', 'abc', 'é', '€', '😀', 'a😀b€é', '\ud800', 'x\udc00y', '\ud800é', '\ud800\ud800', '\udbffa']) {
      expect(utf8Length(s)).toBe(new TextEncoder().encode(s).byteLength);
    }
  });

  it('accepts strings, Uint8Array, Buffer and ArrayBuffer up to the limit, and nothing else', () => {
    for (const ok of ['', 'x', new Uint8Array(4), Buffer.from('abcd'), new ArrayBuffer(4)]) {
      expect(() => validateWirePayload(ok, 4)).not.toThrow();
    }
    for (const bad of [{}, [], 1, null, undefined, true, new Uint16Array(2), new DataView(new ArrayBuffer(2))]) {
      expect(() => validateWirePayload(bad, 100)).toThrow(expect.objectContaining({ code: 'INVALID_PAYLOAD' }));
    }
    expect(() => validateWirePayload('éé€', 6)).toThrow(expect.objectContaining({ code: 'TOO_LARGE' }));
    expect(() => validateWirePayload(new Uint8Array(5), 4)).toThrow(expect.objectContaining({ code: 'TOO_LARGE' }));
    expect(payloadByteLength(new ArrayBuffer(7))).toBe(7);
  });

  it('refuses strings with lone surrogates with INVALID_PAYLOAD: UTF-8 would change them on the wire', () => {
    for (const bad of ['x\uD800', '\uDC00', '\uD800\uD800', 'a\uDBFFb', '😀\uD83D']) {
      let thrown: unknown;
      try {
        validateWirePayload(bad, 100);
      } catch (err) {
        thrown = err;
      }
      expect(VnfError.is(thrown, 'INVALID_PAYLOAD')).toBe(true);
      expect((thrown as VnfError).message).toContain('not well-formed UTF-16');
      expect((thrown as VnfError).message).toContain('MarshallerHub');
    }
    // Checked before the size: the string is refused for what it is, whatever the limit.
    expect(() => validateWirePayload('x\uD800'.repeat(10), 4)).toThrow(expect.objectContaining({ code: 'INVALID_PAYLOAD' }));
    for (const ok of ['\uFEFF', '\uFEFFtext', '😀', '\uD83D\uDE00x']) expect(() => validateWirePayload(ok, 100)).not.toThrow();
  });

  it('decodes UTF-8 byte for byte, from Buffers and plain Uint8Arrays alike: BOM kept, bad bytes refused', () => {
    const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
    const cases = [
      [0xef, 0xbb, 0xbf, 0x61], // a leading U+FEFF stays
      [0x61, 0xef, 0xbf, 0xbd, 0x62], // a genuine U+FFFD
      [0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80], // two, three and four bytes
      [0xff], // not UTF-8
      [0xed, 0xa0, 0x80], // an encoded surrogate
      [0xc0, 0x80], // overlong
      [0xe2, 0x82], // truncated
      [0x61, 0xef, 0xbf, 0xbd, 0xff], // a genuine U+FFFD, then a bad byte
    ];
    for (const bytes of cases) {
      const framed = [0x78, ...bytes, 0x79];
      let expected: string | 'throws';
      try {
        expected = strict.decode(new Uint8Array(bytes));
      } catch {
        expected = 'throws';
      }
      for (const frame of [Buffer.from(framed), new Uint8Array(framed)]) {
        let got: string | 'throws';
        try {
          got = decodeUtf8(frame, 1, framed.length - 1);
        } catch (err) {
          expect((err as Error).name).toBe('TypeError');
          got = 'throws';
        }
        expect([bytes, frame.constructor.name, got]).toEqual([bytes, frame.constructor.name, expected]);
      }
    }
    expect(decodeUtf8(Buffer.from('whole'))).toBe('whole');
  });

  it('copies binary into a plain Uint8Array and views Buffers without copying', () => {
    const source = Buffer.from([1, 2, 3]);
    const copy = copyBinary(source);
    source[0] = 9;
    expect(Object.getPrototypeOf(copy)).toBe(Uint8Array.prototype);
    expect(Array.from(copy)).toEqual([1, 2, 3]);
    const view = toUint8Array(source);
    expect(Object.getPrototypeOf(view)).toBe(Uint8Array.prototype);
    expect(view[0]).toBe(9);
  });

  it('recognises VnfErrors by name and code, across package copies', () => {
    const err = new VnfError('TIMEOUT', 'Timed out; retry later.');
    expect(VnfError.is(err)).toBe(true);
    expect(VnfError.is(err, 'TIMEOUT')).toBe(true);
    expect(VnfError.is(err, 'NOT_FOUND')).toBe(false);
    expect(VnfError.is({ name: 'VnfError', code: 'X', message: '' })).toBe(true);
    expect(VnfError.is(new Error('plain'))).toBe(false);
  });
});
