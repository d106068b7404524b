import { afterEach, expect, it } from '@jest/globals';
import { VnfError } from '@vnf/core';
import { InBrowserHub } from '@vnf/in-browser-hub';
import { ReliableRtcHub } from '@vnf/rtc-hub';
import type { RtcEndpoint } from '@vnf/rtc-hub';
import { controlledWrtc } from './support/controlledWrtc';
import { until } from './support/until';

const WAIT = 30_000;
let hub: ReliableRtcHub | undefined;
afterEach(async () => {
  await hub?.close();
  hub = undefined;
});

it('rejects options that are not an object', () => {
  let thrown: unknown;
  try {
    new ReliableRtcHub(new InBrowserHub(), null as never);
  } catch (err) {
    thrown = err;
  }
  expect(VnfError.is(thrown, 'INVALID_ARGUMENT')).toBe(true);
});

it('rejects a misspelt option, of its own or of a layer, with INVALID_ARGUMENT naming the option meant', () => {
  const signaling = new InBrowserHub();
  expect(() => new ReliableRtcHub(signaling, { rtcOptions: {} } as never)).toThrow(
    expect.objectContaining({ code: 'INVALID_ARGUMENT', message: 'Unknown ReliableRtcHub option "rtcOptions". Did you mean "rtc"?' }),
  );
  expect(() => new ReliableRtcHub(signaling, { rtc: { directRetry: 5 } } as never)).toThrow(
    expect.objectContaining({ code: 'INVALID_ARGUMENT', message: 'Unknown RtcHub option "directRetry". Did you mean "directRetryMs"?' }),
  );
  expect(() => new ReliableRtcHub(signaling, { reliable: { restoreTimeout: 5 } } as never)).toThrow(
    expect.objectContaining({ code: 'INVALID_ARGUMENT', message: 'Unknown ReliableHub option "restoreTimeout". Did you mean "restoreTimeoutMs"?' }),
  );
  void signaling.close();
});

it('a broken data channel: messages go over the relay, then back to a new channel, exactly once and in order', async () => {
  const control = controlledWrtc();
  hub = new ReliableRtcHub(new InBrowserHub(), { rtc: { wrtc: control.impl, directRetryMs: 200, iceTimeoutMs: 1500, connectTimeoutMs: 5000 } });
  const a = hub.openEndpoint('a');
  const b = hub.openEndpoint('b');
  // The RtcHub endpoints beneath (the RtcHub hands out the endpoint its decorator opened, once).
  const rtcA = hub.inner.openEndpoint('a') as RtcEndpoint;
  const received: string[] = [];
  b.onMessage = (e) => received.push(String(e.message));
  const lost: string[] = [];
  a.onConnectionLost((eva) => lost.push(eva));
  b.onConnectionLost((eva) => lost.push(eva));
  expect((await a.openConnection('b')).status).toBe('CONNECTED');
  await until('a direct channel', WAIT, () => rtcA.path('b') === 'direct');

  let sent = 0;
  const sendSome = (n: number): void => {
    for (let i = 0; i < n; i++) a.send('b', `m${sent++}`);
  };
  sendSome(100);
  control.blocked = true; // no new channel can connect until unblocked
  control.breakAll();
  sendSome(100); // some of these go into the dead channel and must be retransmitted
  await until('the relay', WAIT, () => rtcA.path('b') === 'relay');
  sendSome(100);
  await until('everything sent so far, over the relay', WAIT, () => received.length >= sent);
  expect(rtcA.path('b')).toBe('relay');
  control.blocked = false;
  await until('a new direct channel', WAIT, () => rtcA.path('b') === 'direct');
  sendSome(100);
  await until('every message', WAIT, () => received.length >= sent);
  // A barrier: anything duplicated would have arrived by the time the reply comes back.
  const replied = new Promise<void>((resolve) => (a.onMessage = () => resolve()));
  b.send('a', 'done');
  await replied;
  expect(received).toEqual(Array.from({ length: sent }, (_, i) => `m${i}`));
  expect(lost).toEqual([]);
  expect(control.created).toBeGreaterThan(2);
}, 90_000);
