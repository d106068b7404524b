// Issue 17, "Done when": a real broker behind a loopback proxy that records every byte its clients exchange with it.
//
// 1. While 1 000 messages with random markers flow over WebRTC and the path changes direct → relay → direct, no marker
//    appears in the recording (as sent or in any encoding a hub might use); the recording must hold at least the
//    relayed messages' ciphertext, and the relay phase must really have crossed the proxy (a canary checks that the
//    search does find markers sent without SecureHub).
// 2. The same proxy rewriting one bit of a Noise handshake message (1, 2 or 3, in turn) ends `openConnection` in
//    FAILED / KEY_MISMATCH, 20 of 20 trials, and nothing is delivered: placement 2 (the handshake crosses the broker
//    beneath RtcHub) and placement 1 on the relay path (forced, or brought about by rewriting the clear SDP
//    fingerprints). Rewriting the SDP fingerprints alone: placement 1 falls back to the relay, sealed, with the true
//    identities; placement 2 carries the SDP sealed, so the proxy can only break its record: INTEGRITY, FAILED.
//
// Real broker, real WebSocketHub, real @roamhq/wrtc (loopback only: run inside ../shared/bin/loopback-only, no ICE
// servers). The WebRTC switch (support/switchableWrtc) only drops ICE candidates and closes peer connections.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { Broker } from '@vnf/broker';
import { ConnectionStatus, type ConnectionEvent, type Hub } from '@vnf/core';
import { MarshallerHub } from '@vnf/marshaller-hub';
import { ReliableRtcHub, type RtcEndpoint, type RtcHubOptions } from '@vnf/rtc-hub';
import { WebSocketFactory, WebSocketHub } from '@vnf/websocket-hub';
import { Identity, SecureHub } from '../src';
import { BATCH_ENTRY_HEADER } from '../src/Outbox';

/** A message's least share of the ciphertext it travels in: its kind byte and, in a turn's batch, its length. */
const LEAST_OVERHEAD = 1 + BATCH_ENTRY_HEADER;
import { BrokerKind, RecordingProxy, brokerRecordsOf, type WsFrame } from './support/recordingProxy';
import { directlyOverBroker, insideRelayedRtcFrames, tamperHandshake, tamperSdpFingerprints, tamperTransport, type RecordTamper } from './support/handshakeTamper';
import { findMarkers, markerForms } from './support/markerSearch';
import { loadWrtc, switchableWrtc, type SwitchableWrtc } from './support/switchableWrtc';

const WAIT = 20_000;
const wrtc = loadWrtc();
// WebRTC is a part of this test: missing, the test is skipped locally and fails under CI.
const withWrtc = wrtc !== null || process.env.CI === 'true' ? describe : describe.skip;
if (wrtc === null && process.env.CI !== 'true') console.warn('recordingProxy.test: @roamhq/wrtc cannot be loaded; skipped (CI=true fails instead)');

let broker: Broker;
let proxy: RecordingProxy;
beforeAll(async () => {
  broker = new Broker();
  const { port } = new URL((await broker.listen({ port: 0, host: '127.0.0.1' })).url);
  proxy = await RecordingProxy.start({ host: '127.0.0.1', port: Number(port) });
});
afterAll(async () => {
  await proxy?.close();
  await broker?.close();
});

const factory = (): WebSocketFactory => new WebSocketFactory(proxy.url(), { reconnect: { initialDelayMs: 20, maxDelayMs: 200 } });

// ---- waiting on events, with timeouts --------------------------------------------------------------------------

/** Resolves when `register`'s callback is called; fails after `timeoutMs` naming `what`. `register` returns its cleanup. */
function eventually<T = void>(what: string, timeoutMs: number, register: (done: (value: T) => void) => () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let cleanup: () => void = () => undefined;
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    let settled = false;
    cleanup = register((value) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      queueMicrotask(() => cleanup());
      resolve(value);
    });
  });
}

function pathIs(rtc: RtcEndpoint, peer: string, path: 'direct' | 'relay'): Promise<void> {
  return eventually(`${rtc.eva}'s path to ${peer} to be ${path}`, WAIT, (done) => {
    const listener = (eva: string, now: 'direct' | 'relay'): void => {
      if (eva === peer && now === path) done();
    };
    rtc.on('path', listener);
    if (rtc.path(peer) === path) done();
    return () => rtc.off('path', listener);
  });
}

// ---- the two placements --------------------------------------------------------------------------------------

interface Peer {
  hub: Hub;
  /** The RtcEndpoint beneath the stack's endpoint of `eva` (for `path`). */
  rtc(eva: string): RtcEndpoint;
}

type Placement = (control: SwitchableWrtc, rtc?: RtcHubOptions) => Peer;

const rtcOptions = (control: SwitchableWrtc, extra: RtcHubOptions = {}): RtcHubOptions => ({
  wrtc: control.impl,
  iceServers: [],
  directRetryMs: 250,
  iceTimeoutMs: 2500,
  connectTimeoutMs: 6000,
  ...extra,
});

/** Placement 1: MarshallerHub(SecureHub(ReliableRtcHub(WebSocketHub))). */
const placement1: Placement = (control, extra) => {
  const reliable = new ReliableRtcHub(new WebSocketHub(factory()), { rtc: rtcOptions(control, extra) });
  const hub = new MarshallerHub(new SecureHub(reliable, { identity: Identity.generate() }));
  return { hub, rtc: (eva) => reliable.inner.openEndpoint(eva) as RtcEndpoint };
};

/** Placement 2: MarshallerHub(ReliableRtcHub(SecureHub(WebSocketHub))). */
const placement2: Placement = (control, extra) => {
  const reliable = new ReliableRtcHub(new SecureHub(new WebSocketHub(factory()), { identity: Identity.generate() }), { rtc: rtcOptions(control, extra) });
  const hub = new MarshallerHub(reliable);
  return { hub, rtc: (eva) => reliable.inner.openEndpoint(eva) as RtcEndpoint };
};

// ---- 1. nothing of 1 000 messages in the recording, across direct → relay → direct ------------------------------

interface Message {
  seq: number;
  marker: string;
  text: string;
}

const newMessage = (seq: number): Message => {
  const marker = randomBytes(16).toString('hex');
  return { seq, marker, text: `secret ${seq}: ${marker}` };
};
/** The least a message's ciphertext takes: its JSON (MarshallerHub's one-byte frame header included). */
const plaintextBytes = (message: Message): number => Buffer.byteLength(JSON.stringify(message)) + 1;

/** Uplink (`up`, from `eva`'s socket) or downlink bytes of broker BINARY records in frames recorded in (from, to]. */
function binaryBytes(frames: readonly WsFrame[], eva: string, direction: 'up' | 'down', from: number, to: number): number {
  const inWindow = frames.filter((f) => f.connection.eva === eva && f.direction === direction && f.at > from && f.at <= to);
  return brokerRecordsOf(inWindow)
    .filter((r) => r.kind === BrokerKind.BINARY)
    .reduce((sum, r) => sum + r.payload.length, 0);
}

async function directRelayDirect(name: string, placement: Placement, recordOverhead: number): Promise<void> {
  const control = switchableWrtc(wrtc);
  const alice = placement(control);
  const bob = placement(control);
  const aliceEva = `alice-${name}`;
  const bobEva = `bob-${name}`;
  const a = alice.hub.openEndpoint(aliceEva);
  const b = bob.hub.openEndpoint(bobEva);
  try {
    const received: Message[] = [];
    let waiting: { count: number; done: () => void } | null = null;
    b.onMessage = (e) => {
      received.push(e.message as Message);
      if (waiting && received.length >= waiting.count) waiting.done();
    };
    const receivedAll = (count: number, what: string): Promise<void> =>
      eventually(what, WAIT, (done) => {
        waiting = { count, done };
        if (received.length >= count) done();
        return () => (waiting = null);
      });
    const lost: string[] = [];
    a.onConnectionLost((eva) => lost.push(`${aliceEva} lost ${eva}`));
    b.onConnectionLost((eva) => lost.push(`${bobEva} lost ${eva}`));
    const startBytes = proxy.bytes;

    expect((await a.openConnection(bobEva)).status).toBe(ConnectionStatus.CONNECTED);
    const rtcA = alice.rtc(aliceEva);
    const paths: string[] = [];
    rtcA.on('path', (eva, path) => eva === bobEva && paths.push(path));
    await pathIs(rtcA, bobEva, 'direct');

    const sent: Message[] = [];
    const sendPhase = (count: number): { volume: number } => {
      let volume = 0;
      for (let i = 0; i < count; i++) {
        const message = newMessage(sent.length);
        sent.push(message);
        volume += plaintextBytes(message) + recordOverhead;
        a.send(bobEva, message);
      }
      return { volume };
    };
    const phases: Array<{ name: string; path: string; messages: number; volume: number; upBinary: number; downBinary: number; recorded: number }> = [];
    const runPhase = async (phase: string, count: number, path: 'direct' | 'relay'): Promise<void> => {
      expect(rtcA.path(bobEva)).toBe(path);
      const from = proxy.bytes;
      const { volume } = sendPhase(count);
      await receivedAll(sent.length, `${sent.length} messages (${phase})`);
      expect(rtcA.path(bobEva)).toBe(path); // the path did not change under the phase
      const to = proxy.bytes;
      phases.push({
        name: phase,
        path,
        messages: count,
        volume,
        upBinary: binaryBytes(proxy.frames, aliceEva, 'up', from, to),
        downBinary: binaryBytes(proxy.frames, bobEva, 'down', from, to),
        recorded: to - from,
      });
    };

    await runPhase('direct', 400, 'direct');

    control.blocked = true; // no new data channel can connect until unblocked
    control.breakAll();
    await pathIs(rtcA, bobEva, 'relay');
    await runPhase('relay', 300, 'relay');

    control.blocked = false;
    await pathIs(rtcA, bobEva, 'direct');
    await runPhase('direct again', 300, 'direct');

    // Exactly once and in order, across both switches.
    expect(received.length).toBe(1000);
    expect(received.map((m) => m.seq)).toEqual(sent.map((m) => m.seq));
    expect(received).toEqual(sent);
    expect(lost).toEqual([]);
    // Each switch reported once (a first 'direct' may come after openConnection resolved: not a switch).
    expect(paths.filter((path, i) => i > 0 || path !== 'direct')).toEqual(['relay', 'direct']);
    expect(rtcA.path(bobEva)).toBe('direct');

    // The relay phase crossed the proxy: alice's socket sent, and bob's received, at least the relayed messages'
    // ciphertext in broker BINARY records; the direct phases carried next to nothing through it.
    const [direct1, relay, direct2] = phases;
    for (const phase of [direct1!, direct2!]) {
      expect(phase.upBinary).toBeLessThan(phase.volume / 10);
      expect(phase.downBinary).toBeLessThan(phase.volume / 10);
    }
    expect(relay!.upBinary).toBeGreaterThanOrEqual(relay!.volume);
    expect(relay!.downBinary).toBeGreaterThanOrEqual(relay!.volume);
    expect(relay!.recorded).toBeGreaterThanOrEqual(2 * relay!.volume);
    const recorded = proxy.bytes - startBytes;
    expect(recorded).toBeGreaterThanOrEqual(2 * relay!.volume);

    // No marker anywhere: not in the bytes as they crossed the proxy, nor in the unmasked WebSocket payloads, in
    // any form a hub might put it in.
    expect(proxy.anomalies).toEqual([]);
    const needles = sent.flatMap((m) => markerForms(m.marker));
    const found = [...findMarkers(proxy.recording(), needles), ...findMarkers(proxy.unmaskedPayloads(), needles)];
    expect(found).toEqual([]);
    console.log(
      `${name}: ${sent.length} messages; recorded ${recorded} bytes through the proxy; ` +
        phases.map((p) => `${p.name}: ${p.messages} messages, ${p.volume} B of ciphertext at least, ${p.recorded} B recorded, BINARY up ${p.upBinary} B / down ${p.downBinary} B`).join('; ') +
        `; ${control.created} peer connections`,
    );
  } finally {
    await alice.hub.close();
    await bob.hub.close();
  }
}

withWrtc('a recording proxy in front of the broker sees no message in clear', () => {
  it('the search finds markers sent without SecureHub (canary)', async () => {
    const control = switchableWrtc(wrtc);
    const plain = (): { hub: Hub } => ({ hub: new MarshallerHub(new ReliableRtcHub(new WebSocketHub(factory()), { rtc: rtcOptions(control, { forceRelay: true }) })) });
    const alice = plain();
    const bob = plain();
    try {
      const a = alice.hub.openEndpoint('alice-canary');
      const b = bob.hub.openEndpoint('bob-canary');
      const markers = Array.from({ length: 20 }, (_, i) => newMessage(i));
      const arrived = eventually('20 plain messages', WAIT, (done) => {
        let n = 0;
        b.onMessage = () => ++n === markers.length && done();
        return () => undefined;
      });
      expect((await a.openConnection('bob-canary')).status).toBe(ConnectionStatus.CONNECTED);
      for (const message of markers) a.send('bob-canary', message);
      await arrived;
      const needles = markers.flatMap((m) => markerForms(m.marker));
      const seen = new Set(findMarkers(proxy.unmaskedPayloads(), needles).map((hit) => hit.marker));
      expect(seen.size).toBe(markers.length);
      // In the raw bytes they show in the broker's (unmasked) frames toward bob; alice's frames are masked.
      const raw = new Set(findMarkers(proxy.recording(), needles).map((hit) => hit.marker));
      expect(raw.size).toBe(markers.length);
    } finally {
      await alice.hub.close();
      await bob.hub.close();
    }
  });

  it('placement 1, MarshallerHub(SecureHub(ReliableRtcHub(WebSocketHub))): 1 000 messages, direct → relay → direct', async () => {
    await directRelayDirect('p1', placement1, LEAST_OVERHEAD);
  }, 60_000);

  it('placement 2, MarshallerHub(ReliableRtcHub(SecureHub(WebSocketHub))): 1 000 messages, direct → relay → direct', async () => {
    // Relayed frames are batched into SecureHub records: no per-message record overhead is certain.
    await directRelayDirect('p2', placement2, 0);
  }, 60_000);
});

// ---- 2. rewritten handshake records: FAILED / KEY_MISMATCH, nothing delivered ------------------------------------

interface Trial {
  readonly opener: ConnectionEvent;
  readonly changed: string[];
  /** Messages either application received, and `connection` events either saw. */
  readonly delivered: unknown[];
  readonly connections: string[];
  readonly errors: string[];
}

/** One trial: two fresh hubs, the proxy rewriting what `tamper` rewrites, alice opening to bob and sending at once. */
async function trial(placement: Placement, name: string, extraBob: RtcHubOptions, makeTamper: (evas: string[]) => { tamper: RecordTamper['tamper']; changed: string[] }): Promise<Trial> {
  const control = switchableWrtc(wrtc);
  const alice = placement(control);
  const bob = placement(control, extraBob);
  const aliceEva = `alice-${name}`;
  const bobEva = `bob-${name}`;
  const { tamper, changed } = makeTamper([aliceEva, bobEva]);
  const delivered: unknown[] = [];
  const connections: string[] = [];
  const errors: string[] = [];
  try {
    const a = alice.hub.openEndpoint(aliceEva);
    const b = bob.hub.openEndpoint(bobEva);
    for (const [endpoint, eva] of [[a, aliceEva], [b, bobEva]] as const) {
      endpoint.onMessage = (e) => delivered.push(e.message);
      endpoint.on('connection', (peer) => {
        connections.push(`${eva} <- ${peer}`);
        try {
          endpoint.send(peer, { from: eva, secret: 'must never arrive' });
        } catch {
          // not connected after all
        }
      });
      endpoint.on('error', (err) => errors.push(`${eva}: ${err.code}`));
    }
    proxy.tamper = tamper;
    const opener = await a.openConnection(bobEva);
    if (opener.status === ConnectionStatus.CONNECTED) a.send(bobEva, { from: aliceEva, secret: 'must never arrive' });
    return { opener, changed, delivered, connections, errors };
  } finally {
    proxy.tamper = null;
    await alice.hub.close();
    await bob.hub.close();
  }
}

function summarize(results: Trial[]): string {
  const count = new Map<string, number>();
  for (const r of results) {
    const key = `${r.opener.status}/${r.opener.reason ?? ''} (${r.changed.join('').replace(/ from .*$/, '').replace(/\s*\(\d+ bytes\)/, '')})`;
    count.set(key, (count.get(key) ?? 0) + 1);
  }
  return [...count].map(([key, n]) => `${n}× ${key}`).join(', ');
}

function expectRefused(results: Trial[]): void {
  const summary = results.map((r) => ({ status: r.opener.status, reason: r.opener.reason, tampered: r.changed.length, delivered: r.delivered.length, connections: r.connections.length }));
  expect(summary).toEqual(results.map(() => ({ status: ConnectionStatus.FAILED, reason: 'KEY_MISMATCH', tampered: 1, delivered: 0, connections: 0 })));
}

const TRIALS = 20;

withWrtc('a proxy that rewrites handshake records or SDP fingerprints', () => {
  it(`placement 2: one bit of message 1, 2 or 3 of the Noise handshake through the broker, ${TRIALS} of ${TRIALS} trials`, async () => {
    const results: Trial[] = [];
    for (let i = 0; i < TRIALS; i++) {
      const type = ((i % 3) + 1) as 1 | 2 | 3;
      results.push(await trial(placement2, `p2-hs-${i}`, {}, (evas) => tamperHandshake(type, directlyOverBroker, evas)));
    }
    console.log(`${results.length} trials: ${summarize(results)}`);
    expectRefused(results);
  }, 60_000);

  it(`placement 1 on the relay path: one bit of message 1, 2 or 3 of the Noise handshake, ${TRIALS} of ${TRIALS} trials`, async () => {
    const results: Trial[] = [];
    for (let i = 0; i < TRIALS; i++) {
      const type = ((i % 3) + 1) as 1 | 2 | 3;
      results.push(await trial(placement1, `p1-hs-${i}`, { forceRelay: true }, (evas) => tamperHandshake(type, insideRelayedRtcFrames, evas)));
    }
    console.log(`${results.length} trials: ${summarize(results)}`);
    expectRefused(results);
  }, 60_000);

  // The issue asks for KEY_MISMATCH here too; what SecureHub does (and its README says) is INTEGRITY: the offer and
  // answer travel sealed, so the proxy cannot find a fingerprint to rewrite, and a bit changed in their record fails
  // its check at the receiver, which ends the signaling connection, so the opener's RtcHub ends in FAILED.
  it(`placement 2: one bit of the sealed record carrying the SDP offer (its DTLS fingerprint): INTEGRITY, FAILED, ${TRIALS} of ${TRIALS} trials`, async () => {
    const results: Trial[] = [];
    for (let i = 0; i < TRIALS; i++) {
      results.push(await trial(placement2, `p2-sdp-${i}`, {}, (evas) => tamperTransport(evas[0]!, 300)));
    }
    console.log(`placement 2, sealed SDP tampered: ${[...new Set(results.map((r) => `${r.opener.status}/${r.opener.reason}`))].join(', ')}`);
    const summary = results.map((r) => ({ status: r.opener.status, tampered: r.changed.length, delivered: r.delivered.length, connections: r.connections.length, integrity: r.errors.some((e) => e.endsWith('INTEGRITY')) }));
    expect(summary).toEqual(results.map(() => ({ status: ConnectionStatus.FAILED, tampered: 1, delivered: 0, connections: 0, integrity: true })));
  }, 60_000);

  // Placement 1 carries the SDP in clear: a proxy that rewrites its fingerprints breaks every data channel (DTLS
  // refuses the peer's certificate), and gains nothing: the connection falls back to the relay, where the SecureHub
  // handshake proves both identities and every message crosses the proxy sealed. Rewriting the handshake records as
  // well (what standing in the middle would take) ends in KEY_MISMATCH.
  it('placement 1: rewritten SDP fingerprints leave the connection on the relay, sealed and with the true identities', async () => {
    const control = switchableWrtc(wrtc);
    const alice = placement1(control);
    const bob = placement1(control);
    const { tamper, changed } = tamperSdpFingerprints(['alice-p1-sdp', 'bob-p1-sdp']);
    proxy.tamper = tamper;
    try {
      const a = alice.hub.openEndpoint('alice-p1-sdp');
      const b = bob.hub.openEndpoint('bob-p1-sdp');
      const messages = Array.from({ length: 50 }, (_, i) => newMessage(i));
      const received: Message[] = [];
      const arrived = eventually('50 messages over the relay', WAIT, (done) => {
        b.onMessage = (e) => received.push(e.message as Message) === messages.length && done();
        return () => undefined;
      });
      const from = proxy.bytes;
      expect((await a.openConnection('bob-p1-sdp')).status).toBe(ConnectionStatus.CONNECTED);
      const rtcA = alice.rtc('alice-p1-sdp');
      expect(rtcA.path('bob-p1-sdp')).toBe('relay');
      for (const message of messages) a.send('bob-p1-sdp', message);
      await arrived;
      expect(received).toEqual(messages);
      expect(changed.length).toBeGreaterThanOrEqual(2); // the offer's and the answer's, at least
      const secureA = (alice.hub as MarshallerHub).inner as SecureHub;
      const secureB = (bob.hub as MarshallerHub).inner as SecureHub;
      expect(secureA.openEndpoint('alice-p1-sdp').peerIdentity('bob-p1-sdp')?.fingerprint).toBe(secureB.fingerprint);
      expect(rtcA.path('bob-p1-sdp')).toBe('relay');
      const volume = messages.reduce((sum, m) => sum + plaintextBytes(m) + LEAST_OVERHEAD, 0);
      expect(binaryBytes(proxy.frames, 'alice-p1-sdp', 'up', from, proxy.bytes)).toBeGreaterThanOrEqual(volume);
      const needles = messages.flatMap((m) => markerForms(m.marker));
      expect([...findMarkers(proxy.recording().subarray(0), needles), ...findMarkers(proxy.unmaskedPayloads(), needles)]).toEqual([]);
      console.log(`placement 1, SDP fingerprints rewritten ${changed.length} times: CONNECTED over the relay, ${control.created} peer connections tried`);
    } finally {
      proxy.tamper = null;
      await alice.hub.close();
      await bob.hub.close();
    }
  }, 60_000);

  it(`placement 1: rewritten SDP fingerprints and a bit of message 1, 2 or 3 of the handshake, ${TRIALS} of ${TRIALS} trials`, async () => {
    const results: Trial[] = [];
    for (let i = 0; i < TRIALS; i++) {
      const type = ((i % 3) + 1) as 1 | 2 | 3;
      results.push(
        await trial(placement1, `p1-both-${i}`, {}, (evas) => {
          const sdp = tamperSdpFingerprints(evas);
          const handshake = tamperHandshake(type, insideRelayedRtcFrames, evas);
          // changed: the handshake record's (one); the SDP rewrites are counted apart
          return { tamper: (frame) => handshake.tamper(frame) ?? sdp.tamper(frame), changed: handshake.changed };
        }),
      );
    }
    expectRefused(results);
  }, 60_000);
});
