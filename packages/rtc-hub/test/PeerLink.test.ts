import { afterEach, expect, it } from '@jest/globals';
import type { Endpoint, Hub } from '@vnf/core';
import { InBrowserHub } from '@vnf/in-browser-hub';
import { RtcHub } from '@vnf/rtc-hub';
import { signallingWrtc } from './support/signallingWrtc';

const hubs: Hub[] = [];
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((hub) => hub.close()));
});

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

it("reads the data channel's bufferedAmount once a turn, not once a message, and counts its own sends in between", async () => {
  const channels = signallingWrtc();
  const hub = new RtcHub(new InBrowserHub(), { wrtc: channels.impl });
  hubs.push(hub);
  const a = hub.openEndpoint('a');
  const b = hub.openEndpoint('b');
  expect((await a.openConnection('b')).status).toBe('CONNECTED');
  await roundTrip(a, b);
  channels.paused = true; // what is sent stays in the channel, so its count is known
  await nextMacrotask();
  const reads = (): number => channels.channels.reduce((sum, channel) => sum + channel.bufferedReads, 0);
  const before = reads();
  const count = 1000;
  for (let i = 0; i < count; i++) a.send('b', 'x'.repeat(95)); // 100 bytes a record
  expect(a.bufferedAmount('b')).toBe(count * 100);
  await Promise.resolve(); // the flush: the frames went to the channel, counted without reading it again
  expect(a.bufferedAmount('b')).toBe(count * 100);
  // Once in the turn; twice at most, should the flush run after the turn's reading was let go.
  expect(reads() - before).toBeLessThanOrEqual(2);
  await nextMacrotask();
  expect(a.bufferedAmount('b')).toBe(count * 100); // a new turn reads the channel itself
  expect(reads() - before).toBeLessThanOrEqual(3);

  const received = new Promise<void>((resolve) => {
    let n = 0;
    b.onMessage = () => ++n === count && resolve();
  });
  channels.resume();
  await received;
  await nextMacrotask();
  expect(a.bufferedAmount('b')).toBe(0);
}, 30_000);
