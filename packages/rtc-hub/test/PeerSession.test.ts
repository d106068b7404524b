import { afterEach, expect, it, jest } from '@jest/globals';
import type { VnfError } from '@vnf/core';
import { dataChannel } from '@vnf/protocol';

const { decodeFrame } = dataChannel;
import { resolveOptions } from '../src/options';
import { PeerSession, type SessionHost } from '../src/PeerSession';
import type { WebRtcImplementation } from '../src/webRtcImplementation';

afterEach(() => {
  jest.restoreAllMocks();
});

/** A session of 'b' toward 'a' over the relay path (no WebRTC needed), recording the relayed frames. */
function relayedSession(signalingMaxPayloadSize = 1024 * 1024): { session: PeerSession; frames: Uint8Array[]; errors: VnfError[] } {
  const frames: Uint8Array[] = [];
  const errors: VnfError[] = [];
  const host: SessionHost = {
    eva: 'b', // the larger eva: it never starts a data channel attempt of its own
    options: resolveOptions({ relay: 'fallback' }, { maxPayloadSize: signalingMaxPayloadSize, highWaterMark: 256 * 1024, lowWaterMark: 64 * 1024 }),
    wrtc: {} as WebRtcImplementation,
    sendControl: () => true,
    sendRelay: (_peer, frame) => {
      frames.push(frame);
      return true;
    },
    signalingBuffered: () => 0,
    reopenSignaling: async () => true,
    established: () => undefined,
    confirmed: () => undefined,
    failed: () => undefined,
    lost: () => undefined,
    pathChanged: () => undefined,
    linger: () => undefined,
    deliver: () => undefined,
    drain: () => undefined,
    error: (error) => errors.push(error),
  };
  const session = new PeerSession('a', host);
  session.onControl({ t: 'relay' });
  expect(session.currentPath).toBe('relay');
  return { session, frames, errors };
}

/**
 * Counts the array entries that splice, shift and slice move or copy: taking a batch off the front of the send
 * queue must not move the rest of the backlog each time, or draining n messages costs O(n²).
 */
function countMovedEntries(): () => number {
  let moved = 0;
  const { splice, shift, slice } = Array.prototype;
  jest.spyOn(Array.prototype, 'splice').mockImplementation(function (this: unknown[], ...args: [number, number?, ...unknown[]]) {
    const before = this.length;
    const removed = splice.apply(this, args as never) as unknown[];
    moved += Math.max(0, before - removed.length - Math.max(0, args[0] < 0 ? before + args[0] : args[0]));
    return removed;
  });
  jest.spyOn(Array.prototype, 'shift').mockImplementation(function (this: unknown[]) {
    moved += Math.max(0, this.length - 1);
    return shift.call(this);
  });
  jest.spyOn(Array.prototype, 'slice').mockImplementation(function (this: unknown[], ...args: [number?, number?]) {
    const copy = slice.apply(this, args);
    moved += copy.length;
    return copy;
  });
  return () => moved;
}

it('drains a large backlog in linear work, in order, in frames of at most 64 KiB', async () => {
  const { session, frames, errors } = relayedSession();
  const count = 50_000;
  const sent: string[] = [];
  for (let i = 0; i < count; i++) sent.push(`message ${i} `.padEnd(100, 'x'));
  const moved = countMovedEntries();
  for (const message of sent) session.send(message);
  await Promise.resolve(); // the flush runs in a microtask
  const work = moved();
  jest.restoreAllMocks();
  expect(frames.length).toBeGreaterThan(50);
  expect(Math.max(...frames.map((frame) => frame.byteLength))).toBeLessThanOrEqual(64 * 1024);
  expect(frames.flatMap((frame) => decodeFrame(frame))).toEqual(sent);
  expect(session.bufferedAmount()).toBe(0);
  expect(work).toBeLessThanOrEqual(2 * count);
  expect(errors).toEqual([]);
  session.dispose();
});

it("relays no frame larger than the signaling hub's maxPayloadSize, however many messages it coalesces", async () => {
  const { session, frames, errors } = relayedSession(8 * 1024);
  const sent: string[] = [];
  for (let i = 0; i < 1000; i++) sent.push(`message ${i} `.padEnd(100, 'x'));
  sent.push('y'.repeat(8 * 1024 - 5)); // the largest message RtcHub's maxPayloadSize lets through, alone in its frame
  for (const message of sent) session.send(message);
  await Promise.resolve();
  expect(Math.max(...frames.map((frame) => frame.byteLength))).toBe(8 * 1024);
  expect(frames.flatMap((frame) => decodeFrame(frame))).toEqual(sent);
  expect(errors).toEqual([]);
  session.dispose();
});

it('keeps order and byte counts while sending and draining interleave', async () => {
  const { session, frames } = relayedSession();
  const sent: Array<string | Uint8Array> = [];
  for (let round = 0; round < 20; round++) {
    for (let i = 0; i < 300 + round * 97; i++) {
      const message = i % 2 ? `r${round}m${i}é😀` : Uint8Array.of(round, i & 0xff);
      sent.push(message);
      session.send(message);
    }
    expect(session.bufferedAmount()).toBeGreaterThan(0);
    await Promise.resolve();
    expect(session.bufferedAmount()).toBe(0);
  }
  expect(frames.flatMap((frame) => decodeFrame(frame))).toEqual(sent);
  session.dispose();
});
