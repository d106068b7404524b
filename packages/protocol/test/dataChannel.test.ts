import { expect, it, jest } from '@jest/globals';
import { VnfError } from '@vnf/core';
import { ChannelControl, RECORD_OVERHEAD, controlRecord, decodeFrame, encodeFrame, recordSize, toRecord } from '../src/dataChannel';

it('round-trips strings, binary and control records in one frame', () => {
  const records = [toRecord('héllo 😀'), toRecord(Uint8Array.of(1, 2, 3)), toRecord(''), toRecord(new ArrayBuffer(2)), controlRecord(ChannelControl.BYE)];
  const frame = encodeFrame(records);
  expect(frame.byteLength).toBe(records.reduce((n, r) => n + recordSize(r), 0));
  expect(decodeFrame(frame)).toEqual(['héllo 😀', Uint8Array.of(1, 2, 3), '', new Uint8Array(2), { control: ChannelControl.BYE }]);
});

it('keeps a leading BOM of every string record (relayed and direct frames share this codec)', () => {
  const strings = ['\uFEFF', '\uFEFFafter a BOM', '\uFEFF\uFEFF', 'x\uFEFF'];
  const frame = encodeFrame([...strings.map((s) => toRecord(s)), toRecord(Uint8Array.of(0xef, 0xbb, 0xbf))]);
  expect(decodeFrame(frame)).toEqual([...strings, Uint8Array.of(0xef, 0xbb, 0xbf)]);
});

it('throws PROTOCOL for a string record that is not UTF-8, instead of changing it', () => {
  for (const bytes of [Uint8Array.of(0x61, 0xff), Uint8Array.of(0xed, 0xa0, 0x80), Uint8Array.of(0xe2, 0x82)]) {
    const frame = encodeFrame([toRecord(bytes)]);
    frame[0] = 0; // the string kind, with bytes no string encodes to
    let thrown: unknown;
    try {
      decodeFrame(frame);
    } catch (err) {
      thrown = err;
    }
    expect(VnfError.is(thrown, 'PROTOCOL')).toBe(true);
  }
});

it('copies binary when it is sent and when it is received', () => {
  const source = Uint8Array.of(9, 9);
  const record = toRecord(source);
  source[0] = 0;
  const frame = encodeFrame([record]);
  const [decoded] = decodeFrame(frame) as Uint8Array[];
  frame[RECORD_OVERHEAD] = 7;
  expect(decoded).toEqual(Uint8Array.of(9, 9));
  expect(Object.getPrototypeOf(decoded)).toBe(Uint8Array.prototype);
});

it('decodes a Node Buffer view of a larger buffer', () => {
  const frame = encodeFrame([toRecord('x')]);
  const padded = Buffer.concat([Buffer.from([1, 2, 3]), Buffer.from(frame)]).subarray(3);
  expect(decodeFrame(padded)).toEqual(['x']);
});

it('throws PROTOCOL for malformed frames', () => {
  const frame = encodeFrame([toRecord('abc')]);
  for (const bad of [frame.subarray(0, 3), frame.subarray(0, frame.byteLength - 1), Uint8Array.of(9, 0, 0, 0, 0)]) {
    let thrown: unknown;
    try {
      decodeFrame(bad);
    } catch (err) {
      thrown = err;
    }
    expect(VnfError.is(thrown, 'PROTOCOL')).toBe(true);
  }
});

it('encodes strings straight into the frame, without an intermediate copy', () => {
  const encode = jest.spyOn(TextEncoder.prototype, 'encode');
  const frame = encodeFrame([toRecord('héllo 😀'), toRecord('plain'), toRecord('')]);
  expect(encode).not.toHaveBeenCalled();
  encode.mockRestore();
  expect(decodeFrame(frame)).toEqual(['héllo 😀', 'plain', '']);
});

it('sizes records by their UTF-8 length, lone surrogates included', () => {
  // A lone surrogate becomes U+FFFD (3 bytes), whatever follows it.
  const strings = ['\uD800é', '\uD800\u4e2d', 'a\uDC00b', '\uD83D', '\uD83D\uDE00\uD800', 'ok'];
  const records = strings.map((s) => toRecord(s));
  const frame = encodeFrame(records);
  expect(frame.byteLength).toBe(strings.reduce((n, s) => n + new TextEncoder().encode(s).byteLength + RECORD_OVERHEAD, 0));
  expect(decodeFrame(frame)).toEqual(strings.map((s) => new TextDecoder('utf-8', { ignoreBOM: true }).decode(new TextEncoder().encode(s))));
});
