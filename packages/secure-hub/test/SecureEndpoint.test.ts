import { ConnectionStatus, type MessageEvent } from '@vnf/core';
import { trackResources, uniqueEva, until } from '@vnf/conformance';
import { InBrowserHub } from '@vnf/in-browser-hub';
import { HandshakeState } from '../src/HandshakeState';
import { HANDSHAKE_HEADER, Kind, RecordType, encodeHandshake, handshakePrologue, recordId } from '../src/records';
import { TransportSession } from '../src/TransportSession';
import { Identity, MemoryKeyStore, SecureHub, type KeyChangedEvent, type SecureEndpoint, type SecureHubOptions } from '../src';
import { TamperHub, recordType } from './support/TamperHub';

const TIMEOUT = 5000;
const hubs: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((hub) => hub.close()));
});

/** Two SecureHubs, each with its own identity, over one network (one inner hub) with a tamper layer beneath. */
function network(optionsA: Partial<SecureHubOptions> = {}, optionsB: Partial<SecureHubOptions> = {}) {
  const inner = new InBrowserHub();
  const tamper = new TamperHub(inner);
  const idA = Identity.generate();
  const idB = Identity.generate();
  const hubA = new SecureHub(tamper, { identity: idA, ...optionsA });
  const hubB = new SecureHub(tamper, { identity: idB, ...optionsB });
  hubs.push(hubA, hubB);
  return { tamper, idA, idB, hubA, hubB };
}

function inbox(endpoint: SecureEndpoint): MessageEvent[] {
  const messages: MessageEvent[] = [];
  endpoint.on('message', (event) => messages.push(event));
  return messages;
}

describe('SecureEndpoint: identities', () => {
  it("shows each side the peer's verified key and fingerprint, and the same handshake hash", async () => {
    const { idA, idB, hubA, hubB } = network();
    const a = hubA.openEndpoint(uniqueEva('a'));
    const b = hubB.openEndpoint(uniqueEva('b'));
    expect(a.peerIdentity(b.eva)).toBeNull();
    expect(await a.openConnection(b.eva)).toEqual({ status: ConnectionStatus.CONNECTED, targetEva: b.eva });
    await until('b connected', TIMEOUT, () => b.isConnected(a.eva));
    const atA = a.peerIdentity(b.eva)!;
    const atB = b.peerIdentity(a.eva)!;
    expect(atA.publicKey).toEqual(idB.publicKey);
    expect(atA.fingerprint).toBe(idB.fingerprint);
    expect(atB.fingerprint).toBe(idA.fingerprint);
    expect(atA.handshakeHash).toEqual(atB.handshakeHash);
    expect(a.fingerprint).toBe(idA.fingerprint);
  });

  it('pins on first use: the key store holds the peer key after the first connection', async () => {
    const keyStore = new MemoryKeyStore();
    const { idB, hubA, hubB } = network({ keyStore });
    const a = hubA.openEndpoint(uniqueEva('a'));
    const b = hubB.openEndpoint(uniqueEva('b'));
    await a.openConnection(b.eva);
    expect(keyStore.get(b.eva)).toEqual(idB.publicKey);
  });

  it('with trustOnFirstUse: false an unpinned eva ends in FAILED/KEY_MISMATCH, a pinned one connects', async () => {
    const keyStore = new MemoryKeyStore();
    const { idB, hubA, hubB } = network({ keyStore, trustOnFirstUse: false });
    const a = hubA.openEndpoint(uniqueEva('a'));
    const b = hubB.openEndpoint(uniqueEva('b'));
    expect(await a.openConnection(b.eva)).toEqual({ status: ConnectionStatus.FAILED, targetEva: b.eva, reason: 'KEY_MISMATCH' });
    expect(b.connections()).toEqual([]);
    keyStore.set(b.eva, idB.publicKey);
    expect((await a.openConnection(b.eva)).status).toBe(ConnectionStatus.CONNECTED);
  });

  it('an asynchronous key store (promises) works as a synchronous one does', async () => {
    const pins = new Map<string, Uint8Array>();
    const keyStore = { get: async (eva: string) => pins.get(eva), set: async (eva: string, key: Uint8Array) => void pins.set(eva, key) };
    const { idB, hubA, hubB } = network({ keyStore });
    const a = hubA.openEndpoint(uniqueEva('a'));
    const b = hubB.openEndpoint(uniqueEva('b'));
    expect((await a.openConnection(b.eva)).status).toBe(ConnectionStatus.CONNECTED);
    expect(pins.get(b.eva)).toEqual(idB.publicKey);
  });
});

describe('SecureEndpoint: keyChanged', () => {
  async function changedKey(acceptKeyChange: boolean) {
    const keyStore = new MemoryKeyStore();
    const inner = new InBrowserHub();
    const hubA = new SecureHub(inner, { identity: Identity.generate(), keyStore, acceptKeyChange });
    const first = new SecureHub(inner, { identity: Identity.generate() });
    const second = new SecureHub(inner, { identity: Identity.generate() });
    hubs.push(hubA, first, second);
    const a = hubA.openEndpoint(uniqueEva('a'));
    const bEva = uniqueEva('b');
    const b1 = first.openEndpoint(bEva);
    expect((await a.openConnection(bEva)).status).toBe(ConnectionStatus.CONNECTED);
    b1.destroy();
    await until('a lost b1', TIMEOUT, () => !a.isConnected(bEva));
    // The same eva comes back with another key.
    const b2 = second.openEndpoint(bEva);
    const changes: KeyChangedEvent[] = [];
    a.on('keyChanged', (event) => changes.push(event));
    const result = await a.openConnection(bEva);
    return { a, b2, bEva, keyStore, changes, result, first, second };
  }

  it('fires when a pinned eva presents another key; by default the open ends in FAILED/KEY_MISMATCH and the pin stays', async () => {
    const { b2, bEva, keyStore, changes, result, first, second } = await changedKey(false);
    expect(result).toEqual({ status: ConnectionStatus.FAILED, targetEva: bEva, reason: 'KEY_MISMATCH' });
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({ eva: bEva, accepted: false, previousFingerprint: first.fingerprint, presentedFingerprint: second.fingerprint });
    expect(keyStore.get(bEva)).toEqual(first.options.identity.publicKey);
    expect(b2.connections()).toEqual([]);
  });

  it('with acceptKeyChange: true it fires, the connection opens and the new key is pinned', async () => {
    const { a, bEva, keyStore, changes, result, second } = await changedKey(true);
    expect(result.status).toBe(ConnectionStatus.CONNECTED);
    expect(changes.map((c) => c.accepted)).toEqual([true]);
    expect(keyStore.get(bEva)).toEqual(second.options.identity.publicKey);
    expect(a.peerIdentity(bEva)!.fingerprint).toBe(second.fingerprint);
  });

  it('a throwing keyChanged listener becomes an error event (LISTENER_ERROR); the refusal still happens', async () => {
    const keyStore = new MemoryKeyStore();
    const inner = new InBrowserHub();
    const hubA = new SecureHub(inner, { identity: Identity.generate(), keyStore });
    const other = new SecureHub(inner, { identity: Identity.generate() });
    hubs.push(hubA, other);
    const a = hubA.openEndpoint(uniqueEva('a'));
    const b = other.openEndpoint(uniqueEva('b'));
    keyStore.set(b.eva, Identity.generate().publicKey);
    const errors: string[] = [];
    a.on('error', (error) => errors.push(error.code));
    a.on('keyChanged', () => {
      throw new Error('listener bug');
    });
    expect((await a.openConnection(b.eva)).reason).toBe('KEY_MISMATCH');
    expect(errors).toEqual(['LISTENER_ERROR']);
  });
});

describe('SecureEndpoint: a man in the middle', () => {
  /**
   * Mallory sits beneath both hubs: she answers A's first handshake message herself, as B, with her own static key
   * (a complete, valid Noise responder), and never lets anything reach B.
   */
  function mallory(tamper: TamperHub, aEva: string, bEva: string, seen: { toB: number }) {
    const identity = Identity.generate();
    tamper.interceptor = (record, at) => {
      if (at.from !== aEva || at.to !== bEva) return at.forward(record);
      seen.toB++;
      if (recordType(record) !== RecordType.msg1) return; // nothing of A's reaches B
      const id = recordId(record);
      const responder = new HandshakeState(false, handshakePrologue(aEva, bEva, id), identity.staticKeyPair());
      responder.readMessage(record.subarray(HANDSHAKE_HEADER));
      at.reply(encodeHandshake(RecordType.msg2, id, responder.writeMessage()));
    };
    return identity;
  }

  it('with the key of B pinned, openConnection ends in FAILED/KEY_MISMATCH in 20 of 20 trials, and nothing is delivered', async () => {
    const outcomes: string[] = [];
    for (let trial = 0; trial < 20; trial++) {
      const keyStore = new MemoryKeyStore();
      const { tamper, idB, hubA, hubB } = network({ keyStore });
      const a = hubA.openEndpoint(uniqueEva('a'));
      const b = hubB.openEndpoint(uniqueEva('b'));
      keyStore.set(b.eva, idB.publicKey);
      const atB = inbox(b);
      const seen = { toB: 0 };
      mallory(tamper, a.eva, b.eva, seen);
      const result = await a.openConnection(b.eva);
      outcomes.push(`${result.status}/${result.reason}`);
      expect(() => a.send(b.eva, 'secret')).toThrow(expect.objectContaining({ code: 'NOT_CONNECTED' }));
      expect(a.peerIdentity(b.eva)).toBeNull();
      expect(atB).toEqual([]);
      expect(b.connections()).toEqual([]);
      expect(seen.toB).toBeGreaterThan(0); // Mallory was on the path
      await hubA.close();
      await hubB.close();
    }
    expect(outcomes).toEqual(Array(20).fill('FAILED/KEY_MISMATCH'));
  });

  it("without a pin (first use) a full man in the middle connects, but the fingerprint A shows is hers, not B's", async () => {
    const { tamper, idB, hubA, hubB } = network();
    const a = hubA.openEndpoint(uniqueEva('a'));
    const b = hubB.openEndpoint(uniqueEva('b'));
    const seen = { toB: 0 };
    const identity = mallory(tamper, a.eva, b.eva, seen);
    // Mallory finishes the handshake too: she reads message 3 and confirms with `ready` under the keys she shares with A.
    const respond = tamper.interceptor!;
    let responder: HandshakeState | null = null;
    tamper.interceptor = (record, at) => {
      if (at.from === a.eva && recordType(record) === RecordType.msg1) {
        const id = recordId(record);
        responder = new HandshakeState(false, handshakePrologue(a.eva, b.eva, id), identity.staticKeyPair());
        responder.readMessage(record.subarray(HANDSHAKE_HEADER));
        return at.reply(encodeHandshake(RecordType.msg2, id, responder.writeMessage()));
      }
      if (at.from === a.eva && recordType(record) === RecordType.msg3 && responder) {
        responder.readMessage(record.subarray(HANDSHAKE_HEADER));
        const { send, receive, remoteStatic, handshakeHash } = responder.result;
        const limits = { ordered: true, replayWindow: 1024, rekeyAfterMessages: 1000, rekeyAfterBytes: 1e9 };
        const session = new TransportSession(recordId(record), a.eva, remoteStatic, handshakeHash, send, receive, limits);
        return at.reply(session.seal(Uint8Array.of(Kind.ready)));
      }
      respond(record, at);
    };
    expect((await a.openConnection(b.eva)).status).toBe(ConnectionStatus.CONNECTED);
    expect(hubA.options.keyStore.get(b.eva)).toEqual(identity.publicKey);
    expect(a.peerIdentity(b.eva)!.fingerprint).toBe(identity.fingerprint);
    expect(a.peerIdentity(b.eva)!.fingerprint).not.toBe(idB.fingerprint);
    expect(b.connections()).toEqual([]);
  });

  it('a rewritten handshake message (one bit of message 2) ends the open in FAILED/KEY_MISMATCH', async () => {
    const { tamper, hubA, hubB } = network();
    const a = hubA.openEndpoint(uniqueEva('a'));
    const b = hubB.openEndpoint(uniqueEva('b'));
    tamper.interceptor = (record, at) => {
      if (recordType(record) !== RecordType.msg2) return at.forward(record);
      const changed = record.slice();
      changed[HANDSHAKE_HEADER + 40]! ^= 1;
      at.forward(changed);
    };
    expect(await a.openConnection(b.eva)).toEqual({ status: ConnectionStatus.FAILED, targetEva: b.eva, reason: 'KEY_MISMATCH' });
    expect(b.connections()).toEqual([]);
  });
});

describe('SecureEndpoint: rekeying', () => {
  it('rekeys every few messages and traffic goes on, in order, both ways', async () => {
    const { hubA, hubB } = network({ rekeyAfterMessages: 3 }, { rekeyAfterMessages: 3 });
    const a = hubA.openEndpoint(uniqueEva('a'));
    const b = hubB.openEndpoint(uniqueEva('b'));
    await a.openConnection(b.eva);
    await until('b connected', TIMEOUT, () => b.isConnected(a.eva));
    const atA = inbox(a);
    const atB = inbox(b);
    for (let i = 0; i < 20; i++) {
      a.send(b.eva, `a${i}`);
      b.send(a.eva, new Uint8Array([i]));
    }
    await until('all messages', TIMEOUT, () => atA.length === 20 && atB.length === 20);
    expect(atB.map((e) => e.message)).toEqual(Array.from({ length: 20 }, (_, i) => `a${i}`));
    expect(atA.map((e) => (e.message as Uint8Array)[0])).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(a.rekeys(b.eva)).toBe(6);
    expect(b.rekeys(a.eva)).toBeGreaterThanOrEqual(6);
  });

  it('rekeys by bytes too', async () => {
    const { hubA, hubB } = network({ rekeyAfterBytes: 1000 });
    const a = hubA.openEndpoint(uniqueEva('a'));
    const b = hubB.openEndpoint(uniqueEva('b'));
    await a.openConnection(b.eva);
    const atB = inbox(b);
    for (let i = 0; i < 10; i++) a.send(b.eva, new Uint8Array(600).fill(i));
    await until('all messages', TIMEOUT, () => atB.length === 10);
    expect(atB.map((e) => (e.message as Uint8Array)[599])).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(a.rekeys(b.eva)).toBe(4);
  });
});

describe('SecureEndpoint: ordered: false (a lossy inner hub)', () => {
  it('drops and counts a tampered or a replayed record; the connection goes on', async () => {
    const { tamper, hubA, hubB } = network({ ordered: false }, { ordered: false });
    const a = hubA.openEndpoint(uniqueEva('a'));
    const b = hubB.openEndpoint(uniqueEva('b'));
    await a.openConnection(b.eva);
    const atB = inbox(b);
    const errors: string[] = [];
    b.on('error', (error) => errors.push(error.code));
    let n = 0;
    tamper.interceptor = (record, at) => {
      if (at.from !== a.eva || recordType(record) !== RecordType.transport) return at.forward(record);
      n++;
      if (n === 1) {
        const changed = record.slice();
        changed[changed.length - 1]! ^= 0x80;
        return at.forward(changed); // m1 tampered
      }
      at.forward(record);
      if (n === 2) at.forward(record); // m2 replayed
      if (n === 3) at.forward(record); // m3 replayed too
    };
    // One record each: a message a turn (the messages of one turn share a record).
    for (const [i, m] of ['m1', 'm2', 'm3', 'm4'].entries()) {
      a.send(b.eva, m);
      await until(`${m}'s record beneath`, TIMEOUT, () => n === i + 1);
    }
    await until('m4 at b', TIMEOUT, () => atB.some((e) => e.message === 'm4'));
    const reply = new Promise<MessageEvent>((resolve) => a.once('message', resolve));
    b.send(a.eva, 'still here');
    expect((await reply).message).toBe('still here');
    expect(atB.map((e) => e.message)).toEqual(['m2', 'm3', 'm4']);
    expect(b.integrityDrops).toBe(3);
    expect(errors).toEqual([]);
    expect(b.isConnected(a.eva)).toBe(true);
  });
});

describe('SecureEndpoint: ordered: false, a lost ready', () => {
  it("the responder's first message confirms the handshake when its ready was lost", async () => {
    const { tamper, hubA, hubB } = network({ ordered: false }, { ordered: false });
    const a = hubA.openEndpoint(uniqueEva('a'));
    const b = hubB.openEndpoint(uniqueEva('b'));
    let dropped = false;
    tamper.interceptor = (record, at) => {
      if (!dropped && at.from === b.eva && recordType(record) === RecordType.transport) {
        dropped = true; // the ready
        return;
      }
      at.forward(record);
    };
    b.on('connection', (peer) => b.send(peer, 'first words'));
    const atA = inbox(a);
    expect((await a.openConnection(b.eva)).status).toBe(ConnectionStatus.CONNECTED);
    await until('the first message at a', TIMEOUT, () => atA.length === 1);
    expect(atA[0]!.message).toBe('first words');
    expect(dropped).toBe(true);
  });
});

describe('SecureEndpoint: the broker sees ciphertext only', () => {
  it('no record beneath carries the plaintext of a message', async () => {
    const { tamper, hubA, hubB } = network();
    const records: Uint8Array[] = [];
    tamper.interceptor = (record, at) => {
      records.push(record);
      at.forward(record);
    };
    const a = hubA.openEndpoint(uniqueEva('a'));
    const b = hubB.openEndpoint(uniqueEva('b'));
    await a.openConnection(b.eva);
    const atB = inbox(b);
    const marker = 'MARKER-7f3a9c-secret';
    a.send(b.eva, marker);
    await until('the message', TIMEOUT, () => atB.length === 1);
    const needle = Buffer.from(marker);
    expect(records.some((r) => Buffer.from(r).includes(needle))).toBe(false);
    expect(atB[0]!.message).toBe(marker);
  });

  it('leaves no timer behind once closed, after a refused handshake', async () => {
    const resources = trackResources();
    const keyStore = new MemoryKeyStore();
    const { hubA, hubB } = network({ keyStore });
    const a = hubA.openEndpoint(uniqueEva('a'));
    const b = hubB.openEndpoint(uniqueEva('b'));
    keyStore.set(b.eva, Identity.generate().publicKey);
    expect((await a.openConnection(b.eva)).reason).toBe('KEY_MISMATCH');
    await hubA.close();
    await hubB.close();
    await resources.released(TIMEOUT, 'timers of the closed hubs');
  });
});

describe('SecureEndpoint: handshake records changed beneath', () => {
  // Found by the recording-proxy test: a rewritten handshake id made the record a "stray" and the open a TIMEOUT.
  for (const [type, name] of [[RecordType.msg2, 'message 2'], [RecordType.msg3, 'message 3']] as const) {
    it(`${name} with its handshake id rewritten ends openConnection in FAILED/KEY_MISMATCH at once, not in a TIMEOUT`, async () => {
      const { tamper, hubA, hubB } = network({ connectTimeoutMs: 30_000 }, { connectTimeoutMs: 30_000 });
      const a = hubA.openEndpoint(uniqueEva('a'));
      const b = hubB.openEndpoint(uniqueEva('b'));
      const atB = inbox(b);
      tamper.interceptor = (record, at) => {
        if (record[0] !== type) return at.forward(record);
        const changed = record.slice();
        changed[4] ^= 0x01; // the last byte of the handshake id
        at.forward(changed);
      };
      // With a 30 s connect timeout, a stray record would end in TIMEOUT (and fail the test's own 30 s limit first).
      const outcome = await a.openConnection(b.eva);
      expect(outcome).toEqual({ status: ConnectionStatus.FAILED, targetEva: b.eva, reason: 'KEY_MISMATCH' });
      expect(atB).toEqual([]);
    });
  }

  it('a late message 2 of an earlier attempt that timed out is ignored: the retry connects', async () => {
    const { tamper, hubA, hubB } = network({ connectTimeoutMs: 300 });
    const a = hubA.openEndpoint(uniqueEva('a'));
    const b = hubB.openEndpoint(uniqueEva('b'));
    let held: { record: Uint8Array; forward: (r: Uint8Array) => void } | null = null;
    tamper.interceptor = (record, at) => {
      if (record[0] === RecordType.msg2 && held === null) {
        held = { record, forward: at.forward };
        return;
      }
      at.forward(record);
    };
    expect((await a.openConnection(b.eva)).status).toBe(ConnectionStatus.TIMEOUT);
    // The retry's message 1 goes out; the old message 2 arrives first (an ordered but slow path), then the new one.
    const retry = a.openConnection(b.eva);
    held!.forward(held!.record);
    expect(await retry).toEqual({ status: ConnectionStatus.CONNECTED, targetEva: b.eva });
  });
});
