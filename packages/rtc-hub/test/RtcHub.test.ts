import { afterEach, describe, expect, it } from '@jest/globals';
import { VnfError } from '@vnf/core';
import type { Hub, MessageEvent } from '@vnf/core';
import { trackResources } from '@vnf/conformance';
import { InBrowserHub } from '@vnf/in-browser-hub';
import { RtcHub } from '@vnf/rtc-hub';
import type { RtcHubOptions } from '@vnf/rtc-hub';
import { controlledWrtc } from './support/controlledWrtc';
import { until } from './support/until';

const WAIT = 15_000;
const hubs: Hub[] = [];
function rtcHub(options?: RtcHubOptions): RtcHub {
  const hub = new RtcHub(new InBrowserHub(), options);
  hubs.push(hub);
  return hub;
}
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((hub) => hub.close()));
});

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return VnfError.is(err) ? err.code : 'not a VnfError';
  }
  return undefined;
}

describe('RtcHub options', () => {
  it('rejects invalid options and combinations with INVALID_ARGUMENT', () => {
    const signaling = new InBrowserHub();
    expect(code(() => new RtcHub(undefined as unknown as Hub))).toBe('INVALID_ARGUMENT');
    expect(code(() => new RtcHub(signaling, { relay: 'always' as 'never' }))).toBe('INVALID_ARGUMENT');
    expect(code(() => new RtcHub(signaling, { connectTimeoutMs: -1 }))).toBe('INVALID_ARGUMENT');
    expect(code(() => new RtcHub(signaling, { connectTimeoutMs: 1000, iceTimeoutMs: 1000 }))).toBe('INVALID_ARGUMENT');
    expect(code(() => new RtcHub(signaling, { maxPayloadSize: 1024 * 1024 }))).toBe('INVALID_ARGUMENT');
    expect(code(() => new RtcHub(signaling, { lowWaterMark: 10, highWaterMark: 5 }))).toBe('INVALID_ARGUMENT');
    expect(code(() => new RtcHub(signaling, { maxRetransmits: 1, maxPacketLifeTime: 1 }))).toBe('INVALID_ARGUMENT');
    expect(code(() => new RtcHub(signaling, { wrtc: {} as never }))).toBe('INVALID_ARGUMENT');
    expect(code(() => new RtcHub(new InBrowserHub({ maxPayloadSize: 1000 }), { relay: 'fallback', maxPayloadSize: 2000 }))).toBe('INVALID_ARGUMENT');
  });

  it('rejects a misspelt option with INVALID_ARGUMENT naming the option meant', () => {
    const signaling = new InBrowserHub();
    expect(() => new RtcHub(signaling, { iceTimeout: 1000 } as RtcHubOptions)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', message: 'Unknown RtcHub option "iceTimeout". Did you mean "iceTimeoutMs"?' }),
    );
    void signaling.close();
  });

  it('with relay fallback, the low mark is at least the signaling hub\'s high mark, so relayed bytes drain without polling', () => {
    const marks = (hub: RtcHub): number[] => [hub.lowWaterMark, hub.highWaterMark];
    const signaling = new InBrowserHub({ highWaterMark: 1024 * 1024, lowWaterMark: 256 * 1024 });
    expect(marks(rtcHub())).toEqual([256 * 1024, 1024 * 1024]);
    expect(marks(rtcHub({ highWaterMark: 256 * 1024 }))).toEqual([64 * 1024, 256 * 1024]);
    expect(marks(new RtcHub(new InBrowserHub(), { relay: 'fallback' }))).toEqual([256 * 1024, 1024 * 1024]);
    expect(marks(new RtcHub(signaling, { relay: 'fallback' }))).toEqual([1024 * 1024, 2 * 1024 * 1024]);
    expect(marks(new RtcHub(signaling, { relay: 'fallback', highWaterMark: 4 * 1024 * 1024 }))).toEqual([1024 * 1024, 4 * 1024 * 1024]);
    expect(marks(new RtcHub(signaling))).toEqual([256 * 1024, 1024 * 1024]); // relay 'never': the signaling hub holds no data
    expect(marks(new RtcHub(new InBrowserHub({ highWaterMark: Infinity }), { relay: 'fallback' }))).toEqual([256 * 1024, 1024 * 1024]);
    expect(() => new RtcHub(signaling, { relay: 'fallback', lowWaterMark: 512 * 1024 })).toThrow(
      expect.objectContaining({
        code: 'INVALID_ARGUMENT',
        message:
          "RtcHub: with relay: 'fallback', lowWaterMark (524288) must be at least the signaling hub's highWaterMark (1048576), " +
          "whose drain tells when relayed messages left; raise it, lower the signaling hub's marks, or use relay: 'never'.",
      }),
    );
    expect(() => new RtcHub(signaling, { relay: 'fallback', highWaterMark: 1024 * 1024 })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining("highWaterMark (1048576) must be above the signaling hub's highWaterMark (1048576)") }),
    );
    expect(code(() => new RtcHub(signaling, { relay: 'fallback', lowWaterMark: 2 * 1024 * 1024, highWaterMark: 2 * 1024 * 1024 }))).toBe('INVALID_ARGUMENT');
  });

  it('defaults to a 64 KiB payload limit, lower when relaying through a smaller signaling hub', () => {
    expect(rtcHub().maxPayloadSize).toBe(64 * 1024);
    expect(new RtcHub(new InBrowserHub({ maxPayloadSize: 1000 }), { relay: 'fallback' }).maxPayloadSize).toBe(995);
  });
});

describe('RtcHub connections', () => {
  it('shares the signaling endpoint of the same eva, and close() closes the signaling hub', async () => {
    const signaling = new InBrowserHub();
    const hub = new RtcHub(signaling);
    const a = hub.openEndpoint('a');
    expect(signaling.openEndpoint('a')).toBe(a.signaling);
    await hub.close();
    expect(signaling.closed).toBe(true);
    expect(a.signaling.destroyed).toBe(true);
  });

  it('glare: both sides opening at once make one peer connection each and one working connection', async () => {
    const control = controlledWrtc();
    const hub = rtcHub({ wrtc: control.impl });
    const a = hub.openEndpoint('a');
    const b = hub.openEndpoint('b');
    const [toB, toA] = await Promise.all([a.openConnection('b'), b.openConnection('a')]);
    expect(toB.status).toBe('CONNECTED');
    expect(toA.status).toBe('CONNECTED');
    expect(control.created).toBe(2);
    const got: MessageEvent[] = [];
    a.onMessage = (e) => got.push(e);
    b.onMessage = (e) => {
      got.push(e);
      b.send('a', 'pong');
    };
    a.send('b', 'ping');
    await until('the reply', WAIT, () => got.length === 2);
    expect(got).toEqual([
      { sourceEva: 'a', message: 'ping' },
      { sourceEva: 'b', message: 'pong' },
    ]);
    expect(a.path('b')).toBe('direct');
  });

  it('a side without a single ICE candidate ends in FAILED (NO_CANDIDATES), never a hang', async () => {
    const hub = rtcHub({ iceTransportPolicy: 'relay' }); // relay-only ICE and no TURN server: no candidates
    const a = hub.openEndpoint('a');
    hub.openEndpoint('b');
    const event = await a.openConnection('b');
    expect(event).toEqual({ status: 'FAILED', targetEva: 'b', reason: 'NO_CANDIDATES' });
    expect(a.connections()).toEqual([]);
  });

  it('ICE that cannot connect ends in FAILED (ICE_TIMEOUT) before the connect timeout', async () => {
    const control = controlledWrtc();
    control.blocked = true;
    const hub = rtcHub({ wrtc: control.impl, iceTimeoutMs: 1500, connectTimeoutMs: 10_000 });
    const a = hub.openEndpoint('a');
    const b = hub.openEndpoint('b');
    const [atA, atB] = await Promise.all([a.openConnection('b'), b.openConnection('a')]);
    expect(atA).toEqual({ status: 'FAILED', targetEva: 'b', reason: 'ICE_TIMEOUT' });
    expect(atB.status).toBe('FAILED');
  });

  it("the peer's WebRTC stack closing reports connectionLost once", async () => {
    const control = controlledWrtc();
    const hub = rtcHub({ wrtc: control.impl });
    const a = hub.openEndpoint('a');
    const b = hub.openEndpoint('b');
    expect((await a.openConnection('b')).status).toBe('CONNECTED');
    const lostAtB: string[] = [];
    const lostAtA: string[] = [];
    b.onConnectionLost((eva) => lostAtB.push(eva));
    a.onConnectionLost((eva) => lostAtA.push(eva));
    control.breakAll();
    await until('both sides to see the loss', WAIT, () => lostAtA.length > 0 && lostAtB.length > 0);
    await until('the peer connections to be gone', WAIT, () => !a.isConnected('b') && !b.isConnected('a'));
    expect(lostAtA).toEqual(['b']);
    expect(lostAtB).toEqual(['a']);
  });

  it('the signaling connection dropping does not end an open data channel', async () => {
    const hub = rtcHub();
    const a = hub.openEndpoint('a');
    const b = hub.openEndpoint('b');
    expect((await a.openConnection('b')).status).toBe('CONNECTED');
    const lost: string[] = [];
    a.onConnectionLost((eva) => lost.push(eva));
    b.onConnectionLost((eva) => lost.push(eva));
    a.signaling.closeConnection('b');
    await until('the signaling connection to drop at b', WAIT, () => !b.signaling.isConnected('a'));
    const got: unknown[] = [];
    b.onMessage = (e) => {
      got.push(e.message);
      b.send('a', 'still here');
    };
    a.onMessage = (e) => got.push(e.message);
    a.send('b', 'over the channel');
    await until('both messages', WAIT, () => got.length === 2);
    expect(got).toEqual(['over the channel', 'still here']);
    expect(lost).toEqual([]);
  });

  it('backpressure: bufferedAmount grows past the high-water mark, drain fires, every message arrives in order', async () => {
    const hub = rtcHub({ highWaterMark: 256 * 1024, lowWaterMark: 64 * 1024 });
    const a = hub.openEndpoint('a');
    const b = hub.openEndpoint('b');
    expect((await a.openConnection('b')).status).toBe('CONNECTED');
    const count = 200;
    const received: number[] = [];
    b.onMessage = (e) => received.push((e.message as Uint8Array)[0] | ((e.message as Uint8Array)[1] << 8));
    const drained = new Promise<string>((resolve) => a.once('drain', resolve));
    for (let i = 0; i < count; i++) {
      const chunk = new Uint8Array(60 * 1024);
      chunk[0] = i & 0xff;
      chunk[1] = i >> 8;
      a.send('b', chunk);
    }
    expect(a.bufferedAmount('b')).toBeGreaterThan(256 * 1024);
    expect(await drained).toBe('b');
    expect(a.bufferedAmount('b')).toBeLessThan(64 * 1024);
    await until(`${count} messages`, 60_000, () => received.length >= count);
    expect(received).toEqual(Array.from({ length: count }, (_, i) => i));
  }, 90_000);

  it('messages sent in one tick share data channel frames and arrive as separate messages', async () => {
    const hub = rtcHub();
    const a = hub.openEndpoint('a');
    const b = hub.openEndpoint('b');
    expect((await a.openConnection('b')).status).toBe('CONNECTED');
    const got: unknown[] = [];
    b.onMessage = (e) => got.push(e.message);
    const sent: Array<string | Uint8Array> = [];
    for (let i = 0; i < 1000; i++) sent.push(i % 3 === 0 ? Uint8Array.of(i & 0xff, 7) : `m${i}`);
    sent.push('', new Uint8Array(0));
    for (const message of sent) a.send('b', message);
    await until('every message', WAIT, () => got.length === sent.length);
    expect(got).toEqual(sent);
  });

  it('closeConnection delivers what was sent before it, then reports the loss at the peer', async () => {
    const hub = rtcHub();
    const a = hub.openEndpoint('a');
    const b = hub.openEndpoint('b');
    expect((await a.openConnection('b')).status).toBe('CONNECTED');
    const events: string[] = [];
    b.onMessage = (e) => events.push(String(e.message));
    b.onConnectionLost((eva) => events.push(`lost ${eva}`));
    for (let i = 0; i < 50; i++) a.send('b', `m${i}`);
    a.closeConnection('b');
    await until('the loss', WAIT, () => events.includes('lost a'));
    expect(events).toEqual([...Array.from({ length: 50 }, (_, i) => `m${i}`), 'lost a']);
  });

  it('close() with a hung peer that never reads the BYE resolves and leaves no peer connection or timer behind', async () => {
    const resources = trackResources();
    const signaling = new InBrowserHub();
    const mine = controlledWrtc();
    const theirs = controlledWrtc();
    // The default iceTimeoutMs (8 s) is how long a closed channel may wait for the peer to read.
    const hub = new RtcHub(signaling, { wrtc: mine.impl });
    const peerHub = new RtcHub(signaling, { wrtc: theirs.impl });
    hubs.push(hub, peerHub);
    const a = hub.openEndpoint('a');
    const b = peerHub.openEndpoint('b');
    expect((await a.openConnection('b')).status).toBe('CONNECTED');
    const got: unknown[] = [];
    b.onMessage = (e) => got.push(e.message);
    a.send('b', 'read');
    await until('the first message', WAIT, () => got.length === 1);
    theirs.frozen = true; // b's process hangs: it neither reads the BYE nor closes its side
    a.send('b', 'never read');
    expect(mine.live).toBe(1);
    await hub.close();
    expect(mine.live).toBe(0);
    expect(got).toEqual(['read']);
    await peerHub.close();
    await resources.released(WAIT);
  }, 30_000);

  it('a non-RTC peer on the signaling hub: the attempt fails, the endpoint reports a PROTOCOL error on garbage', async () => {
    const signaling = new InBrowserHub();
    const hub = new RtcHub(signaling, { iceTimeoutMs: 1000, connectTimeoutMs: 5000 });
    hubs.push(hub);
    const b = hub.openEndpoint('b');
    const plain = signaling.openEndpoint('a'); // not an RtcHub endpoint: never answers
    const errors: VnfError[] = [];
    b.on('error', (err) => errors.push(err));
    expect((await plain.openConnection('b')).status).toBe('CONNECTED');
    plain.send('b', 'not a control frame');
    await until('the PROTOCOL error', WAIT, () => errors.length > 0);
    expect(errors[0].code).toBe('PROTOCOL');
    expect(await b.openConnection('a')).toEqual({ status: 'FAILED', targetEva: 'a', reason: 'NO_ANSWER' });
  });
});
