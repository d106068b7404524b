import { expect, it } from '@jest/globals';
import type { BusMessage } from '@vnf/protocol';
import { BatchWriter, readBatch } from '../src/busCodec';

const record = (from: string, toSocket: string, n: number, fanOut = false): BusMessage => {
  const message: BusMessage = { t: 'record', from, fromSocket: `${from}-1`, fromNode: 'a', toSocket, kind: 2, payload: Uint8Array.of(n, n + 1) };
  if (fanOut) message.fanOut = true;
  return message;
};

const decoded = (entry: Buffer): BusMessage[] => {
  const out: BusMessage[] = [];
  readBatch(entry, (message) => out.push({ ...message, ...('payload' in message && { payload: Uint8Array.from(message.payload) }) } as BusMessage));
  return out;
};

it('round-trips records of interleaved pairs, fan-out flags, unicode evas and control messages, in order', () => {
  const messages: BusMessage[] = [
    record('alice', 'b-1', 1),
    record('alice', 'b-1', 2),
    record('ällö 🎉', 'b-1', 3),
    { t: 'hold', socket: 'a-1', by: 'b-1' },
    record('alice', 'b-2', 4, true),
    record('alice', 'b-1', 5),
    { t: 'lost', from: 'alice', fromSocket: 'alice-1', toSocket: 'b-1' },
  ];
  const writer = new BatchWriter();
  for (const message of messages) writer.add(message);
  expect(decoded(writer.take())).toEqual(messages);
  // A new entry starts afresh: its first record names its pair again.
  writer.add(record('alice', 'b-1', 6));
  expect(decoded(writer.take())).toEqual([record('alice', 'b-1', 6)]);
});

it('stops at a malformed or truncated entry without throwing, keeping what came before', () => {
  const writer = new BatchWriter();
  writer.add(record('alice', 'b-1', 1));
  writer.add(record('alice', 'b-1', 2));
  const entry = writer.take();
  expect(decoded(entry.subarray(0, entry.length - 1))).toEqual([record('alice', 'b-1', 1)]);
  expect(decoded(Buffer.from([9, 9, 9]))).toEqual([]);
  // A record with no pair before it is not delivered to anyone.
  expect(decoded(Buffer.from([1, 2, 0, 0, 0, 0]))).toEqual([]);
});
