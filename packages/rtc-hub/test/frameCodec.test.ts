import { expect, it } from '@jest/globals';
import { VnfError } from '@vnf/core';
import { ChannelControl, RECORD_OVERHEAD, controlRecord, decodeFrame, encodeFrame, recordSize, toRecord } from '../src/frameCodec';

it('round-trips strings, binary and control records in one frame', () => {
  const records = [toRecord('héllo 😀'), toRecord(Uint8Array.of(1, 2, 3)), toRecord(''), toRecord(new ArrayBuffer(2)), controlRecord(ChannelControl.BYE)];
  const frame = encodeFrame(records);
  expect(frame.byteLength).toBe(records.reduce((n, r) => n + recordSize(r), 0));
  expect(decodeFrame(frame)).toEqual(['héllo 😀', Uint8Array.of(1, 2, 3), '', new Uint8Array(2), { control: ChannelControl.BYE }]);
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
