// The frames are written out by hand here, so these tests pin the wire encoding documented in README.md.
import { VnfError } from '@vnf/core';
import { APP_HEADER_BYTES, ChannelCodec, MAX_NAME_LENGTH, MAX_SUB_HEADER_BYTES, decodeFrame, encodeApp, validateSubProtocolName } from '../src/frameCodec';

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);

describe('app frames', () => {
  it('put one U+0000 before a string', () => {
    expect(encodeApp('hi')).toBe('\u0000hi');
    expect(encodeApp('')).toBe('\u0000');
    expect(APP_HEADER_BYTES).toBe(1);
  });

  it('put one 0 byte before binary, in a copy of the bytes (ArrayBuffer and Buffer too)', () => {
    const payload = bytes(5, 6, 7);
    const frame = encodeApp(payload) as Uint8Array;
    payload.fill(0);
    expect(Array.from(frame)).toEqual([0, 5, 6, 7]);
    expect(Array.from(encodeApp(bytes(9).buffer) as Uint8Array)).toEqual([0, 9]);
    expect(Array.from(encodeApp(Buffer.from([1, 2])) as Uint8Array)).toEqual([0, 1, 2]);
    expect(Array.from(encodeApp(new Uint8Array(0)) as Uint8Array)).toEqual([0]);
  });

  it('send any other value as [0, value]', () => {
    const value = { a: [1, 'two'] };
    expect(encodeApp(value)).toEqual([0, value]);
    expect(encodeApp(null)).toEqual([0, null]);
  });
});

describe('sub-protocol frames', () => {
  it('put U+0001, the name and U+0000 before a string', () => {
    const codec = new ChannelCodec('ping');
    expect(codec.encode('x')).toBe('\u0001ping\u0000x');
    expect(codec.encode('')).toBe('\u0001ping\u0000');
    expect(codec.headerBytes).toBe(6);
  });

  it('put 1, the name length and the UTF-8 name before binary', () => {
    expect(Array.from(new ChannelCodec('ping').encode(bytes(9, 8)) as Uint8Array)).toEqual([1, 4, 112, 105, 110, 103, 9, 8]);
    const accented = new ChannelCodec('é');
    expect(Array.from(accented.encode(bytes(1)) as Uint8Array)).toEqual([1, 2, 0xc3, 0xa9, 1]);
    expect(accented.headerBytes).toBe(4);
  });

  it('send any other value as [1, name, value]', () => {
    expect(new ChannelCodec('rooms').encode({ join: 'lobby' })).toEqual([1, 'rooms', { join: 'lobby' }]);
  });

  it('fit the longest name in the length byte and in MAX_SUB_HEADER_BYTES', () => {
    const longest = new ChannelCodec('\u1100'.repeat(MAX_NAME_LENGTH));
    expect(longest.headerBytes).toBe(MAX_SUB_HEADER_BYTES);
    const frame = longest.encode(bytes()) as Uint8Array;
    expect(frame[1]).toBe(3 * MAX_NAME_LENGTH);
    expect(frame.byteLength).toBe(MAX_SUB_HEADER_BYTES);
  });
});

describe('decodeFrame', () => {
  it('reads back every frame it writes', () => {
    const codec = new ChannelCodec('svc');
    for (const message of ['', 'text', '\u0000\u0001', bytes(), bytes(1, 2, 3), { a: 1 }, [0, 'x'], null, 3]) {
      const app = decodeFrame(encodeApp(message));
      const sub = decodeFrame(codec.encode(message));
      expect(app).toEqual({ name: null, payload: message });
      expect(sub).toEqual({ name: 'svc', payload: message });
    }
  });

  it('hands out binary payloads as views of the received frame, not copies', () => {
    const frame = new ChannelCodec('v').encode(bytes(4, 5)) as Uint8Array;
    const decoded = decodeFrame(frame) as { payload: Uint8Array };
    expect(decoded.payload.buffer).toBe(frame.buffer);
    expect(Array.from(decoded.payload)).toEqual([4, 5]);
    expect(Array.from((decodeFrame(bytes(0, 7).buffer) as { payload: Uint8Array }).payload)).toEqual([7]);
  });

  it.each<[string, unknown]>([
    ['a string without a tag', 'hello'],
    ['an empty string', ''],
    ['a string whose name never ends', '\u0001ping'],
    ['a string with an empty name', '\u0001\u0000x'],
    ['a string with a name too long', `\u0001${'n'.repeat(MAX_NAME_LENGTH + 1)}\u0000x`],
    ['a string with a lone surrogate in the name', '\u0001\uD800\u0000x'],
    ['empty binary', bytes()],
    ['binary with an unknown tag', bytes(2, 1)],
    ['binary with only the tag', bytes(1)],
    ['binary shorter than its name', bytes(1, 5, 65, 66)],
    ['binary with an empty name', bytes(1, 0, 9)],
    ['binary whose name is not UTF-8', bytes(1, 2, 0xff, 0xfe)],
    ['binary whose name holds U+0000', bytes(1, 1, 0)],
    ['an array of one', [0]],
    ['an app array of three', [0, 'x', 'y']],
    ['a sub-protocol array without a name', [1, 'x']],
    ['a sub-protocol array with a number for a name', [1, 5, 'x']],
    ['a sub-protocol array with an empty name', [1, '', 'x']],
    ['an array with an unknown tag', [2, 'x']],
    ['an object', { a: 1 }],
    ['null', null],
    ['a number', 42],
    ['a boolean', true],
  ])('reports %s as malformed', (_what, message) => {
    const decoded = decodeFrame(message);
    expect(typeof decoded.malformed).toBe('string');
  });
});

describe('validateSubProtocolName', () => {
  it.each(['a', 'x'.repeat(MAX_NAME_LENGTH), '😀 emoji', 'with space', '\uFEFFbom'])('accepts %j', (name) => {
    expect(() => validateSubProtocolName(name)).not.toThrow();
  });

  it.each<[string, unknown]>([
    ['an empty string', ''],
    ['65 characters', 'x'.repeat(MAX_NAME_LENGTH + 1)],
    ['U+0000', 'a\u0000b'],
    ['a lone surrogate', 'a\uD800'],
    ['a number', 42],
    ['null', null],
    ['undefined', undefined],
  ])('refuses %s with INVALID_ARGUMENT', (_what, name) => {
    let error: unknown;
    try {
      validateSubProtocolName(name);
    } catch (err) {
      error = err;
    }
    expect(VnfError.is(error, 'INVALID_ARGUMENT')).toBe(true);
  });
});
