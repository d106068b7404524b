import { describe, expect, it } from '@jest/globals';
import {
  FRAME_OVERHEAD,
  MAX_DATAGRAM_COUNTER,
  TAG_LIMIT,
  decodeFrame,
  encodeAck,
  encodeData,
  encodeDatagram,
  encodeHello,
  encodeReset,
  encodeSignal,
  randomSession,
  randomTag,
} from '../src/frameCodec';

describe('frameCodec', () => {
  it('round-trips string and binary data frames, large sequence numbers included', () => {
    for (const seq of [1, 35, 36, 127, 128, 16_384, 2 ** 31 + 5, Number.MAX_SAFE_INTEGER]) {
      expect(decodeFrame(encodeData(TAG_LIMIT - 1, seq, 'a:b:c'))).toEqual({ type: 'data', tag: TAG_LIMIT - 1, seq, payload: 'a:b:c' });
      const binary = decodeFrame(encodeData(42, seq, new Uint8Array([0, 255, 7])));
      expect(binary).toMatchObject({ type: 'data', tag: 42, seq });
      expect([...((binary as { payload: Uint8Array }).payload)]).toEqual([0, 255, 7]);
    }
  });

  it('keeps the data header within FRAME_OVERHEAD bytes', () => {
    const seq = Number.MAX_SAFE_INTEGER;
    expect((encodeData(TAG_LIMIT - 1, seq, '') as string).length).toBeLessThanOrEqual(FRAME_OVERHEAD);
    expect((encodeData(TAG_LIMIT - 1, seq, new Uint8Array(0)) as Uint8Array).byteLength).toBeLessThanOrEqual(FRAME_OVERHEAD);
  });

  it('round-trips string and binary datagram frames, the largest counter included', () => {
    const session = randomSession();
    for (const counter of [1, 35, 36, 127, 128, 2 ** 31 + 5, MAX_DATAGRAM_COUNTER]) {
      expect(decodeFrame(encodeDatagram(session, counter, 'g:h'))).toEqual({ type: 'datagram', session, counter, payload: 'g:h' });
      const binary = decodeFrame(encodeDatagram(session, counter, new Uint8Array([0, 255, 7])));
      expect(binary).toMatchObject({ type: 'datagram', session, counter });
      expect([...((binary as { payload: Uint8Array }).payload)]).toEqual([0, 255, 7]);
    }
    expect(decodeFrame(encodeDatagram(session, 9, ''))).toEqual({ type: 'datagram', session, counter: 9, payload: '' });
  });

  it('keeps the datagram header within FRAME_OVERHEAD bytes, so a multicast carries what a send carries', () => {
    const session = randomSession();
    expect((encodeDatagram(session, MAX_DATAGRAM_COUNTER, '') as string).length).toBeLessThanOrEqual(FRAME_OVERHEAD);
    expect((encodeDatagram(session, MAX_DATAGRAM_COUNTER, new Uint8Array(0)) as Uint8Array).byteLength).toBeLessThanOrEqual(FRAME_OVERHEAD);
  });

  it('round-trips control frames', () => {
    const session = randomSession();
    expect(session).toMatch(/^[0-9a-z]{8}$/);
    expect(decodeFrame(encodeHello('hello', 5, session, 9, 256))).toEqual({ type: 'hello', tag: 5, session, n: 9, window: 256 });
    expect(decodeFrame(encodeHello('helloAck', 5, session, 0, 3))).toEqual({ type: 'helloAck', tag: 5, session, n: 0, window: 3 });
    const ranges: Array<[number, number]> = [[12, 12], [14, 40]];
    expect(decodeFrame(encodeAck(7, 10, ranges))).toEqual({ type: 'ack', tag: 7, cum: 10, ranges });
    expect(decodeFrame(encodeAck(7, 0, []))).toEqual({ type: 'ack', tag: 7, cum: 0, ranges: [] });
    for (const type of ['probe', 'close'] as const) expect(decodeFrame(encodeSignal(type, 1234))).toEqual({ type, tag: 1234 });
    expect(decodeFrame(encodeReset(1234, session))).toEqual({ type: 'reset', tag: 1234, session });
  });

  it('reads a RESET without a session, as peers before 0.2.0 send it', () => {
    expect(decodeFrame('x00ya')).toEqual({ type: 'reset', tag: parseInt('00ya', 36) });
  });

  it.each([
    ['an unknown type letter', 'z0001'],
    ['a short tag', 'd01'],
    ['data without a separator', 'd00011'],
    ['data with sequence 0', 'd00010:x'],
    ['data without a sequence number', 'd0001:x'],
    ['data with a sequence number out of base 36', 'd0001A:x'],
    ['data with a sequence number of 12 digits', 'd0001100000000000:x'],
    ['data with a tag out of base 36', 'd00-11:x'],
    ['an ACK range at or below the cumulative ack', 'a0001a,5'],
    ['an ACK range that ends before it starts', 'a00011,9-5'],
    ['a signal with trailing bytes', 'c0001extra'],
    ['a RESET with a short session', 'x0001abcdefg'],
    ['a RESET with a long session', 'x0001abcdefghi'],
    ['a RESET with a session out of base 36', 'x0001ABCDEFGH'],
    ['a hello with a zero window', 'h0001abcdefgh1.0'],
    ['a datagram with a short header', 'gabcdefgh0000001'],
    ['a datagram with a session out of base 36', 'gABCDEFGH00000001x'],
    ['a datagram with counter 0', 'gabcdefgh00000000x'],
    ['a datagram with a counter out of base 36', 'gabcdefgh0000000-x'],
    ['an empty string', ''],
    ['a number', 42],
  ])('rejects %s', (_what, raw) => {
    expect(decodeFrame(raw)).toBeNull();
  });

  it('rejects binary frames of another type or with a truncated sequence number', () => {
    expect(decodeFrame(new Uint8Array([0x61, 0, 0, 1, 1]))).toBeNull();
    expect(decodeFrame(new Uint8Array([0x64, 0, 0, 1, 0x80]))).toBeNull();
  });

  it('rejects binary datagrams that are truncated, name no session or have counter 0 or one past the last', () => {
    const session = [...'abcdefgh'].map((c) => c.charCodeAt(0));
    expect(decodeFrame(new Uint8Array([0x67, ...session]))).toBeNull();
    expect(decodeFrame(new Uint8Array([0x67, ...session, 0x80]))).toBeNull();
    expect(decodeFrame(new Uint8Array([0x67, ...session, 0]))).toBeNull();
    expect(decodeFrame(new Uint8Array([0x67, ...[...'ABCDEFGH'].map((c) => c.charCodeAt(0)), 1]))).toBeNull();
    const pastLast = encodeDatagram('abcdefgh', MAX_DATAGRAM_COUNTER + 1, new Uint8Array(0));
    expect(decodeFrame(pastLast)).toBeNull();
    expect(decodeFrame(new Uint8Array([0x67, ...session, 1]))).toMatchObject({ type: 'datagram', session: 'abcdefgh', counter: 1 });
  });

  it('picks a tag different from the previous one', () => {
    for (let i = 0; i < 100; i++) {
      const tag = randomTag(3);
      expect(tag).not.toBe(3);
      expect(tag).toBeGreaterThanOrEqual(0);
      expect(tag).toBeLessThan(TAG_LIMIT);
    }
  });
});
