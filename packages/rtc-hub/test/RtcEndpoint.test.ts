import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { Hub, VnfError } from '@vnf/core';
import { trackResources, type ResourceTracker } from '@vnf/conformance';
import { InBrowserHub } from '@vnf/in-browser-hub';
import { ReliableRtcHub, RtcHub } from '@vnf/rtc-hub';
import type { Path, RtcEndpoint, RtcHubOptions } from '@vnf/rtc-hub';
import { WebSocketFactory, WebSocketHub } from '@vnf/websocket-hub';
import { startBroker } from './support/broker';
import { controlledWrtc } from './support/controlledWrtc';
import { until } from './support/until';

// Real WebRTC (@roamhq/wrtc) on loopback only; a real broker on 127.0.0.1 where the test says so.

const WAIT = 20_000;
const hubs: Hub[] = [];
const trackers: ResourceTracker[] = [];
afterEach(async () => {
  jest.restoreAllMocks();
  for (const tracker of trackers.splice(0)) tracker.stop();
  await Promise.all(hubs.splice(0).map((hub) => hub.close()));
});

function track<H extends Hub>(hub: H): H {
  hubs.push(hub);
  return hub;
}

/** Records every `path` event of `endpoint` as `peer:path`. */
function pathEvents(endpoint: RtcEndpoint): string[] {
  const events: string[] = [];
  endpoint.on('connection', (peer) => events.push(`${peer}:connection`));
  endpoint.on('path', (peer: string, path: Path) => events.push(`${peer}:${path}`));
  return events;
}

/** Everything `endpoint` receives, by sender, as `sourceEva` stamped it. */
function inbox(endpoint: RtcEndpoint): Map<string, unknown[]> {
  const got = new Map<string, unknown[]>();
  endpoint.on('message', ({ sourceEva, message }) => {
    let list = got.get(sourceEva);
    if (!list) got.set(sourceEva, (list = []));
    list.push(message);
  });
  return got;
}

/** Timers still pending that Negotiation made: a direct attempt waiting for an answer, or a retry of one. */
function negotiationTimers(resources: ResourceTracker): string[] {
  return resources
    .alive()
    .filter((resource) => resource.type === 'Timeout' && resource.createdAt.includes('Negotiation'))
    .map((resource) => resource.createdAt);
}

describe('forceRelay', () => {
  it('rejects forceRelay with relay: never, and a value that is not a boolean; implies relay: fallback', () => {
    const signaling = new InBrowserHub();
    expect(() => new RtcHub(signaling, { forceRelay: true, relay: 'never' })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining("relay: 'never'") }),
    );
    expect(() => new RtcHub(signaling, { forceRelay: 'yes' as never })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => new RtcHub(signaling, { forcedRelay: true } as RtcHubOptions)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', message: 'Unknown RtcHub option "forcedRelay". Did you mean "forceRelay"?' }),
    );
    // relay 'fallback' limits apply: the payload must fit into one relayed message of the signaling hub.
    expect(new RtcHub(new InBrowserHub({ maxPayloadSize: 1000 }), { forceRelay: true }).maxPayloadSize).toBe(995);
    expect(new RtcHub(new InBrowserHub({ maxPayloadSize: 1000 }), { forceRelay: true, relay: 'fallback' }).maxPayloadSize).toBe(995);
    void signaling.close();
  });

  // a < b: 'a' makes the offers. Each side may be the forced one, and either may open the connection.
  it.each([
    ['b', 'a'],
    ['b', 'b'],
    ['a', 'a'],
    ['a', 'b'],
  ])('a forced %s, opened by %s: never direct, the path says relay, messages flow, and the peer stops trying', async (forcedEva, opener) => {
    const forcedWrtc = controlledWrtc();
    const otherWrtc = controlledWrtc();
    const signaling = new InBrowserHub();
    const forcedHub = track(new RtcHub(signaling, { forceRelay: true, wrtc: forcedWrtc.impl }));
    const otherHub = track(new RtcHub(signaling, { relay: 'fallback', wrtc: otherWrtc.impl }));
    const resources = trackResources();
    trackers.push(resources);
    const [a, b] = forcedEva === 'a' ? [forcedHub.openEndpoint('a'), otherHub.openEndpoint('b')] : [otherHub.openEndpoint('a'), forcedHub.openEndpoint('b')];
    const eventsA = pathEvents(a);
    const eventsB = pathEvents(b);
    const atA = inbox(a);
    const atB = inbox(b);
    const [from, to] = opener === 'a' ? [a, b] : [b, a];
    expect((await from.openConnection(to.eva)).status).toBe('CONNECTED');
    await until('the path at both sides', WAIT, () => eventsA.length === 2 && eventsB.length === 2);
    expect(eventsA).toEqual(['b:connection', 'b:relay']);
    expect(eventsB).toEqual(['a:connection', 'a:relay']);
    expect([a.path('b'), b.path('a')]).toEqual(['relay', 'relay']);

    for (let i = 0; i < 20; i++) {
      a.send('b', `a${i}`);
      b.send('a', `b${i}`);
    }
    await until('every message', WAIT, () => (atA.get('b')?.length ?? 0) === 20 && (atB.get('a')?.length ?? 0) === 20);
    expect(atB.get('a')).toEqual(Array.from({ length: 20 }, (_, i) => `a${i}`));
    expect(atA.get('b')).toEqual(Array.from({ length: 20 }, (_, i) => `b${i}`));

    // The forced side made no peer connection; the other made at most the one it offered before it learnt.
    expect(forcedWrtc.created).toBe(0);
    expect(otherWrtc.created).toBeLessThanOrEqual(forcedEva === 'b' && opener === 'a' ? 1 : 0);
    expect(otherWrtc.live).toBe(0);
    // Neither side waits for an offer or will retry a direct channel (directRetryMs is 5 s: a retry would be pending).
    expect(negotiationTimers(resources)).toEqual([]);
    expect([a.path('b'), b.path('a')]).toEqual(['relay', 'relay']);
    expect(eventsA).toEqual(['b:connection', 'b:relay']);
  }, 30_000);

  it("a relay: 'never' hub opening a connection to a forced one ends in FAILED (RELAY_FORCED), never a hang", async () => {
    const signaling = new InBrowserHub();
    const plain = track(new RtcHub(signaling)).openEndpoint('a');
    track(new RtcHub(signaling, { forceRelay: true })).openEndpoint('b');
    const errors: VnfError[] = [];
    plain.on('error', (error) => errors.push(error));
    expect(await plain.openConnection('b')).toEqual({ status: 'FAILED', targetEva: 'b', reason: 'RELAY_FORCED' });
    expect(errors.map((error) => error.code)).toEqual(['PROTOCOL']); // "use the same relay mode on both sides"
  });

  it('a path listener that throws becomes an error event (LISTENER_ERROR), and the connection works on', async () => {
    const hub = track(new RtcHub(new InBrowserHub(), { forceRelay: true }));
    const a = hub.openEndpoint('a');
    const b = hub.openEndpoint('b');
    const errors: VnfError[] = [];
    a.on('error', (error) => errors.push(error));
    a.on('path', () => {
      throw new Error('listener bug');
    });
    expect((await a.openConnection('b')).status).toBe('CONNECTED');
    await until('the listener error', WAIT, () => errors.length === 1);
    expect(errors[0].code).toBe('LISTENER_ERROR');
    const got = inbox(b);
    a.send('b', 'still works');
    await until('the message', WAIT, () => got.get('a')?.length === 1);
  });
});

describe('path event', () => {
  it('fires on open, when the direct channel breaks (relay) and when a new one is up (direct); never for a closed connection', async () => {
    const control = controlledWrtc();
    const hub = track(new RtcHub(new InBrowserHub(), { relay: 'fallback', wrtc: control.impl, directRetryMs: 200, iceTimeoutMs: 1500, connectTimeoutMs: 5000 }));
    const a = hub.openEndpoint('a');
    const b = hub.openEndpoint('b');
    const eventsA = pathEvents(a);
    const eventsB = pathEvents(b);
    const lost: string[] = [];
    b.onConnectionLost((peer) => lost.push(peer));
    expect((await a.openConnection('b')).status).toBe('CONNECTED');
    await until('the direct path at both sides', WAIT, () => eventsA.length === 2 && eventsB.length === 2);
    expect(eventsA).toEqual(['b:connection', 'b:direct']);
    expect(eventsB).toEqual(['a:connection', 'a:direct']);

    control.blocked = true; // no new channel connects until unblocked
    control.breakAll();
    await until('the relay path at both sides', WAIT, () => eventsA.length === 3 && eventsB.length === 3);
    expect([eventsA[2], eventsB[2], a.path('b'), b.path('a')]).toEqual(['b:relay', 'a:relay', 'relay', 'relay']);

    control.blocked = false;
    await until('the direct path again', WAIT, () => eventsA.length === 4 && eventsB.length === 4);
    expect([eventsA[3], eventsB[3], a.path('b'), b.path('a')]).toEqual(['b:direct', 'a:direct', 'direct', 'direct']);

    a.closeConnection('b');
    await until('the loss at b', WAIT, () => lost.length === 1);
    expect(eventsA).toHaveLength(4);
    expect(eventsB).toHaveLength(4);
    expect([a.path('b'), b.path('a')]).toEqual([null, null]);
  }, 60_000);

  it('relay: never reports the direct path once per connection', async () => {
    const hub = track(new RtcHub(new InBrowserHub()));
    const a = hub.openEndpoint('a');
    const b = hub.openEndpoint('b');
    const eventsA = pathEvents(a);
    const eventsB = pathEvents(b);
    expect((await b.openConnection('a')).status).toBe('CONNECTED');
    await until('the path at both sides', WAIT, () => eventsA.length === 2 && eventsB.length === 2);
    expect(eventsA).toEqual(['b:connection', 'b:direct']);
    expect(eventsB).toEqual(['a:connection', 'a:direct']);
  });
});

describe('multicast through a real broker', () => {
  let broker: Awaited<ReturnType<typeof startBroker>>;
  beforeAll(async () => {
    broker = await startBroker();
  });
  afterAll(() => broker.stop());

  /** One RtcHub with its own socket to the broker, as each member of a room would have. */
  function member(options: RtcHubOptions): RtcHub {
    return track(new RtcHub(new WebSocketHub(new WebSocketFactory(broker.url)), options));
  }

  it('direct targets get it on their channel, relay targets in one relayed multicast; once each, stamped, in call order with send', async () => {
    const sender = member({ relay: 'fallback' }).openEndpoint('a');
    const direct = ['b', 'c'].map((eva) => member({ relay: 'fallback' }).openEndpoint(eva));
    const relayed = ['d', 'e'].map((eva) => member({ forceRelay: true }).openEndpoint(eva));
    const receivers = [...direct, ...relayed];
    const inboxes = receivers.map((endpoint) => inbox(endpoint));
    for (const receiver of receivers) expect((await sender.openConnection(receiver.eva)).status).toBe('CONNECTED');
    await until('the paths', WAIT, () => receivers.every((r) => sender.path(r.eva) !== null));
    expect(receivers.map((r) => sender.path(r.eva))).toEqual(['direct', 'direct', 'relay', 'relay']);
    const fanOut = jest.spyOn(sender.signaling, 'multicast');
    const targets = ['b', 'c', 'd', 'e', 'b', 'nobody', 'd'];
    const expected: string[] = [];

    // Multicasts alone: the relay targets share one multicast of the signaling endpoint each time.
    for (let i = 0; i < 20; i++) sender.multicast(targets, `m${i}`);
    expected.push(...Array.from({ length: 20 }, (_, i) => `m${i}`));
    expect(fanOut.mock.calls.map(([to]) => to)).toEqual(Array.from({ length: 20 }, () => ['d', 'e']));

    // Interleaved with sends in one tick: each target gets everything in call order (a relay target with a
    // message queued gets the multicast queued behind it).
    for (let i = 0; i < 20; i++) {
      for (const receiver of receivers) sender.send(receiver.eva, `s${i}`);
      sender.multicast(targets, `x${i}`);
      expected.push(`s${i}`, `x${i}`);
    }
    // And binary, after the queues emptied again.
    await until('the queues to empty', WAIT, () => receivers.every((r) => sender.bufferedAmount(r.eva) === 0));
    fanOut.mockClear();
    sender.multicast(targets, Uint8Array.of(1, 2, 3));
    expect(fanOut).toHaveBeenCalledTimes(1);
    for (const receiver of receivers) sender.send(receiver.eva, 'fin');

    await until('every message at every target', WAIT, () => inboxes.every((got) => got.get('a')?.at(-1) === 'fin'));
    for (const [index, got] of inboxes.entries()) {
      expect([receivers[index].eva, [...got.keys()]]).toEqual([receivers[index].eva, ['a']]);
      expect(got.get('a')).toEqual([...expected, Uint8Array.of(1, 2, 3), 'fin']);
    }
  }, 60_000);

  it('ReliableRtcHub: a multicast to direct and forced-relay members arrives once at each, stamped', async () => {
    const reliable = (forceRelay: boolean): ReliableRtcHub => track(new ReliableRtcHub(new WebSocketHub(new WebSocketFactory(broker.url)), { rtc: { forceRelay } }));
    const senderHub = reliable(false);
    const sender = senderHub.openEndpoint('a');
    const receivers = [reliable(false).openEndpoint('b'), reliable(false).openEndpoint('c'), reliable(true).openEndpoint('d')];
    const got = receivers.map(() => [] as Array<{ sourceEva: string; message: unknown }>);
    receivers.forEach((receiver, index) => receiver.on('message', ({ sourceEva, message }) => got[index].push({ sourceEva, message })));
    for (const receiver of receivers) expect((await sender.openConnection(receiver.eva)).status).toBe('CONNECTED');
    const rtc = senderHub.inner.openEndpoint('a');
    await until('the paths', WAIT, () => receivers.every((r) => rtc.path(r.eva) !== null));
    expect(receivers.map((r) => rtc.path(r.eva))).toEqual(['direct', 'direct', 'relay']);
    const sent = Array.from({ length: 50 }, (_, i) => `m${i}`);
    for (const message of sent) sender.multicast(['b', 'c', 'd', 'c'], message);
    await until('every multicast at every member', WAIT, () => got.every((list) => list.length >= sent.length));
    // A barrier: a copy would have come before the reply to a message sent after all of them.
    const replies = receivers.map((receiver) => new Promise<void>((resolve) => receiver.on('message', (e) => e.message === 'ping' && resolve())));
    for (const receiver of receivers) sender.send(receiver.eva, 'ping');
    await Promise.all(replies);
    for (const list of got) {
      const multicasts = list.filter((e) => e.message !== 'ping');
      expect(multicasts.every((e) => e.sourceEva === 'a')).toBe(true);
      expect(multicasts.map((e) => e.message).sort()).toEqual([...sent].sort());
    }
  }, 60_000);

  it('best effort: a target whose buffer is past highWaterMark misses the multicast, the others get it', async () => {
    const hub = member({ relay: 'fallback' });
    const sender = hub.openEndpoint('a');
    const slow = member({ relay: 'fallback' }).openEndpoint('b');
    const fast = member({ relay: 'fallback' }).openEndpoint('c');
    const atSlow = inbox(slow);
    const atFast = inbox(fast);
    for (const eva of ['b', 'c']) expect((await sender.openConnection(eva)).status).toBe('CONNECTED');
    const chunk = new Uint8Array(60 * 1024);
    let burst = 0;
    while (sender.bufferedAmount('b') <= hub.highWaterMark) {
      sender.send('b', chunk);
      burst++;
    }
    sender.multicast(['b', 'c'], 'skipped by b');
    sender.send('b', 'fin');
    await until('both', WAIT, () => atSlow.get('a')?.at(-1) === 'fin' && atFast.get('a')?.length === 1);
    expect(atFast.get('a')).toEqual(['skipped by b']);
    expect(atSlow.get('a')).toHaveLength(burst + 1);
  }, 60_000);
});
