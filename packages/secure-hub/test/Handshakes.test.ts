import { ConnectionStatus, type ConnectionEvent } from '@vnf/core';
import { Handshakes, type HandshakeHost, type KeyChangedEvent } from '../src/Handshakes';
import { Identity } from '../src/Identity';
import { MemoryKeyStore } from '../src/MemoryKeyStore';
import { RecordType } from '../src/records';
import type { TransportSession } from '../src/TransportSession';
import { resolveOptions, type SecureHubOptions } from '../src/options';

/** One side: its Handshakes over a fake host that records what the host was asked to do. */
interface Side {
  readonly eva: string;
  readonly identity: Identity;
  readonly keyStore: MemoryKeyStore;
  readonly handshakes: Handshakes;
  readonly sessions: Map<string, TransportSession>;
  readonly calls: string[];
  readonly keyChanges: KeyChangedEvent[];
  readonly outbox: Uint8Array[];
}

function side(eva: string, options: Partial<SecureHubOptions> = {}): Side {
  const identity = Identity.generate();
  const keyStore = new MemoryKeyStore();
  const config = resolveOptions({ identity, keyStore, ...options });
  const sessions = new Map<string, TransportSession>();
  const calls: string[] = [];
  const keyChanges: KeyChangedEvent[] = [];
  const outbox: Uint8Array[] = [];
  const host: HandshakeHost = {
    eva,
    config,
    isDestroyed: () => false,
    sendRecord: (_peer, record) => {
      calls.push(`send ${record[0]}`);
      outbox.push(record);
    },
    restarted: (peer) => calls.push(`restarted ${peer}`),
    adopt: (peer, session) => {
      calls.push(`adopt ${peer}`);
      sessions.set(peer, session);
    },
    accept: (peer) => calls.push(`accept ${peer}`),
    deliverPlaintext: (peer) => calls.push(`deliver ${peer}`),
    dropped: () => calls.push('dropped'),
    keyChanged: (event) => keyChanges.push(event),
    reportError: (error) => calls.push(`error ${error.code}`),
    closeInner: (peer) => calls.push(`closeInner ${peer}`),
  };
  return { eva, identity, keyStore, handshakes: new Handshakes(host), sessions, calls, keyChanges, outbox };
}

/** Carries records both ways, as the endpoint dispatches them, until neither side has any left to send. */
async function pump(x: Side, y: Side): Promise<void> {
  while (x.outbox.length > 0 || y.outbox.length > 0) {
    for (const [from, to] of [[x, y], [y, x]] as const) {
      for (const record of from.outbox.splice(0)) {
        const { handshakes } = to;
        if (record[0] === RecordType.msg1) handshakes.onMessage1(from.eva, record);
        else if (record[0] === RecordType.msg2) await handshakes.onMessage2(from.eva, record);
        else if (record[0] === RecordType.msg3) await handshakes.onMessage3(from.eva, record);
        else if (record[0] === RecordType.refuse) handshakes.onRefuse(from.eva, record);
        else if (!to.sessions.has(from.eva)) handshakes.onTransport(from.eva, record);
      }
    }
  }
}

const never = new AbortController().signal;

describe('Handshakes', () => {
  it('runs XX to the end: the responder adopts, sends ready, then accepts; the initiator accepts on ready', async () => {
    const a = side('a');
    const b = side('b');
    const opened = a.handshakes.open('b', never);
    await pump(a, b);
    expect(await opened).toEqual({ status: ConnectionStatus.CONNECTED, targetEva: 'b' });
    expect(b.calls).toEqual(['restarted a', 'send 2', 'adopt a', `send ${RecordType.transport}`, 'accept a']);
    expect(a.calls).toEqual(['send 1', 'send 3', 'adopt b', 'accept b']);
    expect(a.sessions.get('b')!.peer.handshakeHash).toEqual(b.sessions.get('a')!.peer.handshakeHash);
    expect(a.keyStore.get('b')).toEqual(b.identity.publicKey);
    expect(b.keyStore.get('a')).toEqual(a.identity.publicKey);
  });

  it("both open at once: the smaller eva's handshake goes on, and both opens resolve CONNECTED", async () => {
    const a = side('a');
    const b = side('b');
    const fromA = a.handshakes.open('b', never);
    const fromB = b.handshakes.open('a', never);
    await pump(a, b);
    const connected = (targetEva: string): ConnectionEvent => ({ status: ConnectionStatus.CONNECTED, targetEva });
    expect([await fromA, await fromB]).toEqual([connected('b'), connected('a')]);
    expect(a.calls.filter((call) => call.startsWith('adopt'))).toEqual(['adopt b']);
    expect(b.calls.filter((call) => call.startsWith('adopt'))).toEqual(['adopt a']);
    expect(a.sessions.get('b')!.peer.handshakeHash).toEqual(b.sessions.get('a')!.peer.handshakeHash);
  });

  it('a pinned key that differs: keyChanged, then a refusal that fails both sides with KEY_MISMATCH', async () => {
    const a = side('a');
    const b = side('b');
    const previous = Identity.generate().publicKey;
    a.keyStore.set('b', previous);
    const opened = a.handshakes.open('b', never);
    await pump(a, b);
    expect(await opened).toEqual({ status: ConnectionStatus.FAILED, targetEva: 'b', reason: 'KEY_MISMATCH' });
    expect(a.keyChanges.map(({ eva, previousKey, presentedKey, accepted }) => ({ eva, previousKey, presentedKey, accepted }))).toEqual([
      { eva: 'b', previousKey: previous, presentedKey: b.identity.publicKey, accepted: false },
    ]);
    expect(a.calls).toEqual(['send 1', `send ${RecordType.refuse}`, 'closeInner b']);
    expect(a.keyStore.get('b')).toEqual(previous);
    // b's attempt ended on the refusal: a later message 3 for it would be stray, so b never adopts.
    expect(b.calls).toEqual(['restarted a', 'send 2']);
    expect(b.sessions.size).toBe(0);
  });

  it('failAll ends every handshake under way with its reason', async () => {
    const a = side('a');
    const opened = a.handshakes.open('b', never);
    a.handshakes.failAll('DESTROYED');
    expect(await opened).toEqual({ status: ConnectionStatus.FAILED, targetEva: 'b', reason: 'DESTROYED' });
  });
});
