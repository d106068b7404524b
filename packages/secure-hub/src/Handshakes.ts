import { ConnectionStatus, VnfError, createLogger, toUint8Array, type ConnectionEvent } from '@vnf/core';
import { HandshakeFailure, HandshakeState } from './HandshakeState';
import { fingerprint } from './Identity';
import { HANDSHAKE_HEADER, Kind, RecordType, encodeHandshake, handshakePrologue as prologue, randomId, recordId } from './records';
import { TransportSession } from './TransportSession';
import type { SecureConfig } from './options';

const log = createLogger('secure-hub');
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
/** Handshake ids remembered per peer, so a late copy of an old handshake message starts nothing (lossy inners). */
const RECENT_HANDSHAKES = 16;
/** Peers whose recent handshake ids are remembered. */
const RECENT_PEERS = 4096;

/** What `keyChanged` reports: a pinned eva presented a key other than its pin. */
export interface KeyChangedEvent {
  readonly eva: string;
  /** The key pinned until now, and its fingerprint. */
  readonly previousKey: Uint8Array;
  readonly previousFingerprint: string;
  /** The key the peer presented (and proved it holds), and its fingerprint. */
  readonly presentedKey: Uint8Array;
  readonly presentedFingerprint: string;
  /** True when the hub accepted and pinned it (`acceptKeyChange: true`); false when the connection was refused. */
  readonly accepted: boolean;
}

/** What the handshakes need from their endpoint. */
export interface HandshakeHost {
  readonly eva: string;
  readonly config: SecureConfig;
  /** Asked after each key store answer: a destroyed endpoint reports no key change. */
  isDestroyed(): boolean;
  /** Sends over the inner connection if it is up; never throws. */
  sendRecord(peer: string, record: Uint8Array): void;
  /** The peer started a new handshake: a session still held with it is gone on its side, so it is lost here too. */
  restarted(peer: string): void;
  /** The handshake finished on this side: `session` carries the connection from now on. */
  adopt(peer: string, session: TransportSession): void;
  /** The connection is open (after `adopt`): report it. */
  accept(peer: string): void;
  /** A transport record that confirmed the handshake and carries a message (`ordered: false`). */
  deliverPlaintext(peer: string, plaintext: Uint8Array): void;
  /** A record failed its checks and was dropped (`ordered: false`). */
  dropped(): void;
  keyChanged(event: KeyChangedEvent): void;
  reportError(error: VnfError): void;
  /** Closes the inner connection to `peer`, unless a secure connection is open on it. */
  closeInner(peer: string): void;
}

/** A handshake under way with one peer. */
interface Attempt {
  readonly id: number;
  readonly initiator: boolean;
  readonly state: HandshakeState;
  /** The initiator's session, made when it wrote message 3, until the responder's `ready` confirms it. */
  session: TransportSession | null;
  /** Waiting openConnection calls (the initiator's, or one whose own attempt lost a simultaneous open). */
  readonly waiters: Array<(event: ConnectionEvent) => void>;
}

/**
 * The Noise XX handshakes of one endpoint, at most one per peer, as initiator or responder: the key store checks,
 * refusals, simultaneous opens and the `ready` that confirms the initiator's session.
 */
export class Handshakes {
  private readonly attempts = new Map<string, Attempt>();
  private readonly recent = new Map<string, number[]>();

  constructor(private readonly host: HandshakeHost) {}

  /** Initiator: sends message 1 (-> e), or joins the handshake under way with `peer`; resolves when it ends. */
  open(peer: string, signal: AbortSignal): Promise<ConnectionEvent> {
    return new Promise<ConnectionEvent>((resolve) => {
      const waiter = (event: ConnectionEvent): void => {
        signal.removeEventListener('abort', onAbort);
        resolve(event);
      };
      const onAbort = (): void => {
        const attempt = this.attempts.get(peer);
        if (attempt?.waiters.includes(waiter)) this.endAttempt(peer, attempt, { status: ConnectionStatus.FAILED, targetEva: peer, reason: 'ABORTED' });
      };
      signal.addEventListener('abort', onAbort, { once: true });
      // The peer's handshake may be under way already (a simultaneous open, or it opened first): wait for it.
      const existing = this.attempts.get(peer);
      if (existing) {
        existing.waiters.push(waiter);
        return;
      }
      const id = randomId();
      const state = new HandshakeState(true, prologue(this.host.eva, peer, id), this.host.config.identity.staticKeyPair());
      const attempt: Attempt = { id, initiator: true, state, session: null, waiters: [waiter] };
      this.attempts.set(peer, attempt);
      this.remember(peer, id);
      this.host.sendRecord(peer, encodeHandshake(RecordType.msg1, id, state.writeMessage()));
    });
  }

  /** Ends the handshake with `peer`, if any, with a FAILED `reason`. */
  fail(peer: string, reason: string): void {
    const attempt = this.attempts.get(peer);
    if (attempt) this.endAttempt(peer, attempt, { status: ConnectionStatus.FAILED, targetEva: peer, reason });
  }

  failAll(reason: string): void {
    for (const [peer, attempt] of [...this.attempts]) this.endAttempt(peer, attempt, { status: ConnectionStatus.FAILED, targetEva: peer, reason });
  }

  /** Responder: message 1 (-> e). */
  onMessage1(peer: string, record: Uint8Array): void {
    const id = recordId(record);
    if (this.recent.get(peer)?.includes(id)) return; // a copy of a handshake message already seen
    const mine = this.attempts.get(peer);
    if (mine?.initiator && this.host.eva < peer) return; // both opened at once: the smaller eva's handshake goes on
    const waiters = mine ? mine.waiters.splice(0) : [];
    if (mine) this.endAttempt(peer, mine, null);
    this.host.restarted(peer);
    this.remember(peer, id);
    const state = new HandshakeState(false, prologue(peer, this.host.eva, id), this.host.config.identity.staticKeyPair());
    let message2: Uint8Array;
    try {
      state.readMessage(record.subarray(HANDSHAKE_HEADER));
      message2 = state.writeMessage();
    } catch (err) {
      return this.handshakeFailed(peer, null, err, waiters);
    }
    const attempt: Attempt = { id, initiator: false, state, session: null, waiters };
    this.attempts.set(peer, attempt);
    this.host.sendRecord(peer, encodeHandshake(RecordType.msg2, id, message2));
  }

  /** Initiator: message 2 (<- e, ee, s, es): check the responder's key, then message 3. */
  async onMessage2(peer: string, record: Uint8Array): Promise<void> {
    const attempt = this.attempts.get(peer);
    if (attempt?.initiator && attempt.state.remoteStatic === null && attempt.id !== recordId(record)) return this.mismatched(peer, attempt, record, 'message 2');
    if (!attempt || !attempt.initiator || attempt.state.remoteStatic !== null) return this.stray(peer, 'message 2');
    try {
      attempt.state.readMessage(record.subarray(HANDSHAKE_HEADER));
    } catch (err) {
      return this.handshakeFailed(peer, attempt, err);
    }
    if (!(await this.trusted(peer, attempt.state.remoteStatic!)) || this.attempts.get(peer) !== attempt) {
      if (this.attempts.get(peer) === attempt) this.refuse(peer, attempt, 'KEY_MISMATCH');
      return;
    }
    let message3: Uint8Array;
    try {
      message3 = attempt.state.writeMessage();
    } catch (err) {
      return this.handshakeFailed(peer, attempt, err);
    }
    const { send, receive, remoteStatic, handshakeHash } = attempt.state.result;
    attempt.session = new TransportSession(attempt.id, peer, remoteStatic, handshakeHash, send, receive, this.host.config);
    this.host.sendRecord(peer, encodeHandshake(RecordType.msg3, attempt.id, message3));
  }

  /** Responder: message 3 (-> s, se): check the initiator's key; the connection is open, and `ready` confirms it. */
  async onMessage3(peer: string, record: Uint8Array): Promise<void> {
    const attempt = this.attempts.get(peer);
    if (attempt && !attempt.initiator && !attempt.state.finished && attempt.id !== recordId(record)) return this.mismatched(peer, attempt, record, 'message 3');
    if (!attempt || attempt.initiator || attempt.state.finished) return this.stray(peer, 'message 3');
    try {
      attempt.state.readMessage(record.subarray(HANDSHAKE_HEADER));
    } catch (err) {
      return this.handshakeFailed(peer, attempt, err);
    }
    const { send, receive, remoteStatic, handshakeHash } = attempt.state.result;
    if (!(await this.trusted(peer, remoteStatic)) || this.attempts.get(peer) !== attempt) {
      if (this.attempts.get(peer) === attempt) this.refuse(peer, attempt, 'KEY_MISMATCH');
      return;
    }
    const session = new TransportSession(attempt.id, peer, remoteStatic, handshakeHash, send, receive, this.host.config);
    this.attempts.delete(peer);
    this.host.adopt(peer, session);
    // `ready` goes first: a `connection` listener may send at once, and the initiator waits for `ready` before anything.
    this.host.sendRecord(peer, session.seal(Uint8Array.of(Kind.ready)));
    this.host.accept(peer);
    for (const waiter of attempt.waiters) waiter({ status: ConnectionStatus.CONNECTED, targetEva: peer });
  }

  onRefuse(peer: string, record: Uint8Array): void {
    const attempt = this.attempts.get(peer);
    if (!attempt || attempt.id !== recordId(record)) return;
    let reason = 'KEY_MISMATCH';
    try {
      const text = decoder.decode(record.subarray(HANDSHAKE_HEADER));
      if (/^[A-Z_]{1,32}$/.test(text)) reason = text;
    } catch {
      // Unreadable: keep KEY_MISMATCH.
    }
    log('%s: %s refused the handshake (%s)', this.host.eva, peer, reason);
    this.endAttempt(peer, attempt, { status: ConnectionStatus.FAILED, targetEva: peer, reason });
  }

  /**
   * A transport record from a peer with no session: for an initiator that sent message 3, the responder's first
   * record, `ready`, proves it derived the same keys: the connection is open. Over `ordered: false` any record of
   * the session that authenticates proves it too (`ready` may be late or lost).
   */
  onTransport(peer: string, record: Uint8Array): void {
    const attempt = this.attempts.get(peer);
    if (!attempt?.initiator || !attempt.session) return this.stray(peer, 'a transport record');
    const { session } = attempt;
    const { ordered } = this.host.config;
    const opened = session.open(record);
    if (typeof opened === 'string' || (ordered && opened[0] !== Kind.ready)) {
      if (ordered) return this.refuse(peer, attempt, 'KEY_MISMATCH');
      this.host.dropped();
      return;
    }
    this.attempts.delete(peer);
    this.host.adopt(peer, session);
    // Accept now, before openConnection resolves: the peer may send right behind its `ready`.
    this.host.accept(peer);
    for (const waiter of attempt.waiters) waiter({ status: ConnectionStatus.CONNECTED, targetEva: peer });
    if (opened[0] !== Kind.ready) this.host.deliverPlaintext(peer, opened);
  }

  /**
   * Whether `key` may speak for `peer`: pinned already, or pinned now (trust on first use), or a changed key that
   * `acceptKeyChange` lets in. Reports `keyChanged` for a pinned eva presenting another key.
   */
  private async trusted(peer: string, key: Uint8Array): Promise<boolean> {
    const { keyStore, trustOnFirstUse, acceptKeyChange } = this.host.config;
    let pinned: Uint8Array | undefined;
    try {
      pinned = await keyStore.get(peer);
      if (pinned === undefined || pinned === null) {
        if (!trustOnFirstUse) return false;
        await keyStore.set(peer, key.slice());
        return true;
      }
      if (equalBytes(pinned, key)) return true;
      if (acceptKeyChange) await keyStore.set(peer, key.slice());
    } catch (cause) {
      this.host.reportError(new VnfError('INTERNAL', `The key store failed for ${peer}, so the connection was refused: ${String(cause)}`, { cause }));
      return false;
    }
    if (this.host.isDestroyed()) return false;
    this.host.keyChanged({
      eva: peer,
      previousKey: toUint8Array(pinned).slice(),
      previousFingerprint: fingerprint(toUint8Array(pinned)),
      presentedKey: key.slice(),
      presentedFingerprint: fingerprint(key),
      accepted: acceptKeyChange,
    });
    return acceptKeyChange;
  }

  private handshakeFailed(peer: string, attempt: Attempt | null, err: unknown, waiters: Array<(event: ConnectionEvent) => void> = []): void {
    if (!(err instanceof HandshakeFailure)) throw err;
    log('%s: handshake with %s failed: %s', this.host.eva, peer, err.message);
    if (attempt) return this.refuse(peer, attempt, 'KEY_MISMATCH');
    for (const waiter of waiters) waiter({ status: ConnectionStatus.FAILED, targetEva: peer, reason: 'KEY_MISMATCH' });
  }

  /** Ends a handshake this side will not finish: tells the peer (a hint: unauthenticated) and closes the inner connection. */
  private refuse(peer: string, attempt: Attempt, reason: string): void {
    this.host.sendRecord(peer, encodeHandshake(RecordType.refuse, attempt.id, encoder.encode(reason)));
    this.endAttempt(peer, attempt, { status: ConnectionStatus.FAILED, targetEva: peer, reason });
    this.host.closeInner(peer);
  }

  private endAttempt(peer: string, attempt: Attempt, event: ConnectionEvent | null): void {
    if (this.attempts.get(peer) === attempt) this.attempts.delete(peer);
    attempt.session?.clear();
    const waiters = attempt.waiters.splice(0);
    if (event) for (const waiter of waiters) waiter(event);
  }

  private remember(peer: string, id: number): void {
    const ids = this.recent.get(peer) ?? [];
    ids.push(id);
    if (ids.length > RECENT_HANDSHAKES) ids.shift();
    this.recent.delete(peer);
    this.recent.set(peer, ids);
    // Bounded across peers too: the least recently seen peer is forgotten first.
    if (this.recent.size > RECENT_PEERS) this.recent.delete(this.recent.keys().next().value!);
  }

  /**
   * The message this handshake waits for, with another handshake's id: over an ordered inner hub nothing but a change
   * beneath makes one (a header rewritten in flight) — but the answer to an earlier attempt of ours that timed out (its
   * id is remembered), so the handshake ends as a tampered body would, KEY_MISMATCH, instead of waiting for a
   * TIMEOUT. Over `ordered: false` it may be a late copy of anything: ignored.
   */
  private mismatched(peer: string, attempt: Attempt, record: Uint8Array, what: string): void {
    if (!this.host.config.ordered || this.recent.get(peer)?.includes(recordId(record))) return this.stray(peer, what);
    log('%s: %s from %s belongs to another handshake than the one under way: refused', this.host.eva, what, peer);
    this.refuse(peer, attempt, 'KEY_MISMATCH');
  }

  private stray(peer: string, what: string): void {
    log('%s: ignored %s from %s (no handshake or session it belongs to)', this.host.eva, what, peer);
  }
}

function equalBytes(a: Uint8Array | ArrayBuffer, b: Uint8Array): boolean {
  const x = toUint8Array(a);
  if (x.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x[i]! ^ b[i]!;
  return diff === 0;
}
