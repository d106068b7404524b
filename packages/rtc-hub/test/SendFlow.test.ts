import { afterEach, expect, it } from '@jest/globals';
import type { Endpoint, Hub } from '@vnf/core';
import { trackResources, type ResourceTracker } from '@vnf/conformance';
import { InBrowserHub } from '@vnf/in-browser-hub';
import { RtcHub } from '@vnf/rtc-hub';
import { SendFlow, type Route } from '../src/SendFlow';
import { signallingWrtc } from './support/signallingWrtc';

// The send queue waits on the buffer beneath it and resumes on that buffer's own signal, never on a timer:
// the data channel's bufferedamountlow on the direct path, the signaling endpoint's drain on the relay path.

const CHUNK = 32 * 1024;
const hubs: Hub[] = [];
/** Stops what a test started (its tracker, its deadline), also when it failed halfway. */
const cleanups: Array<() => void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) cleanup();
  await Promise.all(hubs.splice(0).map((hub) => hub.close()));
});

function tracked(): ResourceTracker {
  const resources = trackResources();
  cleanups.push(() => resources.stop());
  return resources;
}

function track<H extends Hub>(hub: H): H {
  hubs.push(hub);
  return hub;
}

function timers(resources: ResourceTracker): string[] {
  return resources
    .alive()
    .filter((resource) => resource.type === 'Timeout')
    .map((resource) => resource.createdAt);
}

/**
 * A deadline for waits on events. Made before the tracker starts, so its timer is not counted among the test's,
 * and unref'd, so it never holds the process.
 */
function deadline(ms: number) {
  let expire!: () => void;
  const expired = new Promise<void>((resolve) => (expire = resolve));
  const timer = setTimeout(() => expire(), ms);
  timer.unref();
  cleanups.push(() => clearTimeout(timer));
  return {
    async wait<T>(what: Promise<T>, state: () => string): Promise<T> {
      const late = expired.then(() => Promise.reject(new Error(`Timed out after ${ms} ms: ${state()}`)));
      return Promise.race([what, late]);
    },
  };
}

function nextMacrotask(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

async function roundTrip(a: Endpoint, b: Endpoint): Promise<void> {
  const back = new Promise<void>((resolve) => (a.onMessage = () => resolve()));
  b.onMessage = () => b.send(a.eva, 'pong');
  a.send(b.eva, 'ping');
  await back;
  a.onMessage = b.onMessage = null;
}

/**
 * Sends `count` numbered chunks from `a` to `b` in one tick. `done` resolves once `b` has every one and `a` has
 * emitted its drain; `timersWhileWaiting` lists the timers alive each time `b` received a chunk while `a` still held
 * bytes toward it.
 */
function transfer(a: Endpoint, b: Endpoint, count: number, resources: ResourceTracker) {
  const received: number[] = [];
  const drains: string[] = [];
  const timersWhileWaiting: string[] = [];
  let gotAll!: () => void;
  let drained!: () => void;
  const done = Promise.all([new Promise<void>((resolve) => (gotAll = resolve)), new Promise<void>((resolve) => (drained = resolve))]);
  b.onMessage = (e) => {
    const chunk = e.message as Uint8Array;
    received.push(chunk[0] | (chunk[1] << 8));
    if (a.bufferedAmount(b.eva) > 0) timersWhileWaiting.push(...timers(resources));
    if (received.length === count) gotAll();
  };
  a.on('drain', (peer) => {
    drains.push(peer);
    drained();
  });
  for (let i = 0; i < count; i++) {
    const chunk = new Uint8Array(CHUNK);
    chunk[0] = i & 0xff;
    chunk[1] = i >> 8;
    a.send(b.eva, chunk);
  }
  const state = (): string => `${received.length} of ${count} chunks received, ${drains.length} drains, bufferedAmount ${a.bufferedAmount(b.eva)}`;
  return { done, state, received, drains, timersWhileWaiting };
}

it("relay: stops only after a frame of its own left the signaling buffer past the signaling hub's high mark, goes on at its drain", async () => {
  let signalingBuffered = 0;
  let route: Route = 'relay';
  const frames: number[] = [];
  let drainChecks = 0;
  const flow = new SendFlow({
    highWaterMark: 256 * 1024,
    lowWaterMark: 128 * 1024,
    signalingHighWaterMark: 64 * 1024,
    signalingMaxPayloadSize: 1024 * 1024,
    route: () => route,
    sendRelay: (frame) => {
      frames.push(frame.byteLength);
      signalingBuffered += frame.byteLength;
      return true;
    },
    signalingBuffered: () => signalingBuffered,
    relayFailed: () => undefined,
    drain: () => drainChecks++,
  });
  // 16 KiB messages travel three to a frame (the frame budget is 64 KiB): 49 167 bytes a frame.
  const frame = 3 * (16 * 1024 + 5);
  for (let i = 0; i < 18; i++) flow.send(new Uint8Array(16 * 1024));
  await Promise.resolve();
  // Two frames leave 96 KiB and some headers: past the mark, so the signaling endpoint owes a drain.
  expect(frames).toEqual([frame, frame]);
  expect(drainChecks).toBe(1);
  flow.flush(); // nothing but the drain it waits for lets it go on
  expect(frames).toHaveLength(2);
  signalingBuffered = 0;
  flow.signalingDrained();
  expect(frames).toHaveLength(4);
  expect(flow.bufferedAmount()).toBe(signalingBuffered + 2 * frame);
  // A drop takes the owed drain with it: nothing waits for it any more.
  flow.signalingLost();
  signalingBuffered = 0;
  flow.flush();
  expect(frames).toHaveLength(6);
  expect(flow.bufferedAmount()).toBe(signalingBuffered);
  route = null;
  expect(flow.bufferedAmount()).toBe(0);
  flow.dispose();
});

it('direct path: a queue waiting for the data channel resumes on its bufferedamountlow, with no timer, and drains once', async () => {
  const channels = signallingWrtc();
  const hub = track(new RtcHub(new InBrowserHub(), { wrtc: channels.impl }));
  const a = hub.openEndpoint('a');
  const b = hub.openEndpoint('b');
  expect((await a.openConnection('b')).status).toBe('CONNECTED');
  await roundTrip(a, b);
  // The threshold is the hub's low mark, and simple-peer's own onbufferedamountlow was never replaced.
  expect(channels.channels.map((channel) => channel.threshold)).toEqual([hub.lowWaterMark, hub.lowWaterMark]);
  expect(channels.channels.map((channel) => channel.handlerAssignments)).toEqual([1, 1]);

  channels.paused = true; // a congested network: nothing leaves the channel
  const giveUp = deadline(30_000);
  const resources = tracked();
  const count = 128; // 4 MiB
  const flow = transfer(a, b, count, resources);
  await nextMacrotask();
  expect(a.bufferedAmount('b')).toBeGreaterThan(hub.highWaterMark);
  expect(timers(resources)).toEqual([]);

  channels.resume();
  await giveUp.wait(flow.done, flow.state);
  expect(flow.received).toEqual(Array.from({ length: count }, (_, i) => i));
  expect(flow.timersWhileWaiting).toEqual([]);
  expect(channels.channels.some((channel) => channel.lowEvents > 1)).toBe(true);
  await roundTrip(a, b);
  expect(flow.drains).toEqual(['b']);
  expect(a.bufferedAmount('b')).toBeLessThanOrEqual(hub.lowWaterMark);
  expect(timers(resources)).toEqual([]);
}, 60_000);

it("relay path: a queue waiting for the signaling endpoint resumes on its drain, with no timer, and drains once", async () => {
  // WebSocketHub's marks (1 MiB, 256 KiB): the relayed bytes can sit above RtcHub's default low mark without the
  // signaling endpoint owing a drain, which is why RtcHub's marks are raised above them.
  const signaling = new InBrowserHub({ highWaterMark: 1024 * 1024, lowWaterMark: 256 * 1024 });
  // No ICE candidates: the data channel attempt fails at once and the connection relays; no retry during the test.
  const hub = track(new RtcHub(signaling, { relay: 'fallback', iceTransportPolicy: 'relay', directRetryMs: 60_000 }));
  const a = hub.openEndpoint('a');
  const b = hub.openEndpoint('b');
  expect((await a.openConnection('b')).status).toBe('CONNECTED');
  expect(a.path('b')).toBe('relay');
  await roundTrip(a, b);

  const giveUp = deadline(30_000);
  const resources = tracked();
  for (const count of [112, 75]) {
    const flow = transfer(a, b, count, resources); // 3.5 MiB, then 2.3 MiB
    await Promise.resolve(); // the flush ran: the queue waits for the signaling endpoint
    expect(a.bufferedAmount('b')).toBeGreaterThan(hub.highWaterMark);
    expect(a.signaling.bufferedAmount('b')).toBeGreaterThan(signaling.highWaterMark); // so it owes a drain
    expect(timers(resources)).toEqual([]);
    await giveUp.wait(flow.done, flow.state);
    expect(flow.received).toEqual(Array.from({ length: count }, (_, i) => i));
    expect(flow.timersWhileWaiting).toEqual([]);
    await roundTrip(a, b);
    expect(flow.drains).toEqual(['b']);
    expect(a.bufferedAmount('b')).toBeLessThanOrEqual(hub.lowWaterMark);
    a.removeAllListeners('drain');
  }
  expect(timers(resources)).toEqual([]);
}, 60_000);

it('where the data channel has no bufferedamountlow (@roamhq/wrtc), the queue polls for it and no timer is left once drained', async () => {
  const hub = track(new RtcHub(new InBrowserHub()));
  const a = hub.openEndpoint('a');
  const b = hub.openEndpoint('b');
  expect((await a.openConnection('b')).status).toBe('CONNECTED');
  await roundTrip(a, b);
  const giveUp = deadline(30_000);
  const resources = tracked();
  const count = 128;
  const flow = transfer(a, b, count, resources);
  await giveUp.wait(flow.done, flow.state);
  expect(flow.received).toEqual(Array.from({ length: count }, (_, i) => i));
  await roundTrip(a, b);
  expect(flow.drains).toEqual(['b']);
  await resources.released(5_000, 'the poll timer to stop');
}, 60_000);
