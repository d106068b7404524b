import {
  ConnectionStatus,
  DecoratorEndpoint,
  VnfError,
  callUserListener,
  createLogger,
  toUint8Array,
  type ConnectionEvent,
  type Endpoint,
  type EndpointEvents,
  type EndpointOptions,
} from '@vnf/core';
import { HandshakeFailure, HandshakeState } from './HandshakeState';
import { fingerprint } from './Identity';
import { HANDSHAKE_HEADER, Kind, RecordType, encodeHandshake, handshakePrologue as prologue, randomId, recordId, type TransportHeader } from './records';
import { TransportSession, type PeerIdentity, type RecordFault } from './TransportSession';
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

/** The events of a SecureEndpoint: every endpoint's (`EndpointEvents`), and `keyChanged`. */
export interface SecureEndpointEvents extends EndpointEvents {
  /** A pinned eva presented another key (before the connection is refused, or accepted with the new pin). */
  keyChanged: (event: KeyChangedEvent) => void;
}

type KeyChangedListener = SecureEndpointEvents['keyChanged'];

// The emitter methods know `keyChanged` too (types only: at run time this is AbstractEndpoint's eventemitter3).
export interface SecureEndpoint {
  on(event: 'keyChanged', fn: KeyChangedListener, context?: unknown): this;
  on<T extends keyof EndpointEvents>(event: T, fn: EndpointEvents[T], context?: unknown): this;
  addListener(event: 'keyChanged', fn: KeyChangedListener, context?: unknown): this;
  addListener<T extends keyof EndpointEvents>(event: T, fn: EndpointEvents[T], context?: unknown): this;
  once(event: 'keyChanged', fn: KeyChangedListener, context?: unknown): this;
  once<T extends keyof EndpointEvents>(event: T, fn: EndpointEvents[T], context?: unknown): this;
  off(event: 'keyChanged', fn?: KeyChangedListener, context?: unknown, once?: boolean): this;
  off<T extends keyof EndpointEvents>(event: T, fn?: EndpointEvents[T], context?: unknown, once?: boolean): this;
  removeListener(event: 'keyChanged', fn?: KeyChangedListener, context?: unknown, once?: boolean): this;
  removeListener<T extends keyof EndpointEvents>(event: T, fn?: EndpointEvents[T], context?: unknown, once?: boolean): this;
  removeAllListeners(event?: keyof SecureEndpointEvents): this;
  listenerCount(event: keyof SecureEndpointEvents): number;
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
 * An endpoint of a SecureHub: every connection runs a Noise XX handshake over the inner connection before it is
 * reported open, and every message travels as one ChaCha20-Poly1305 record with an explicit counter. See the
 * package README for the protocol and what it guarantees.
 */
export class SecureEndpoint<Inner extends Endpoint = Endpoint> extends DecoratorEndpoint<Inner> {
  private readonly config: SecureConfig;
  private readonly sessions = new Map<string, TransportSession>();
  private readonly attempts = new Map<string, Attempt>();
  private readonly recent = new Map<string, number[]>();
  private drops = 0;

  constructor(inner: Inner, endpointOptions: EndpointOptions, config: SecureConfig) {
    super(inner, { ...endpointOptions, connectTimeoutMs: config.connectTimeoutMs });
    this.config = config;
    this.peerIdentity = this.peerIdentity.bind(this);
    this.rekeys = this.rekeys.bind(this);
  }

  /** This endpoint's own fingerprint (its hub's identity), to show the user. */
  get fingerprint(): string {
    return this.config.identity.fingerprint;
  }

  /**
   * What the handshake proved about the peer at `eva`: its public key, fingerprint and the session's handshake hash;
   * null when no secure connection to it is open.
   */
  peerIdentity(eva: string): PeerIdentity | null {
    this.assertAlive('peerIdentity');
    return this.hasConnection(eva) ? (this.sessions.get(eva)?.peer ?? null) : null;
  }

  /** Records dropped for failing their checks over `ordered: false` (tampered, replayed, too old, forged). */
  get integrityDrops(): number {
    return this.drops;
  }

  /** Times this endpoint replaced its sending key toward `eva` on the open connection (0 when none is open). */
  rekeys(eva: string): number {
    return this.sessions.get(eva)?.rekeys ?? 0;
  }

  // ---- DecoratorEndpoint hooks ----------------------------------------------------------------

  protected override async connect(targetEva: string, signal: AbortSignal): Promise<ConnectionEvent> {
    const innerEvent = await this.inner.openConnection(targetEva);
    if (signal.aborted) return { status: ConnectionStatus.FAILED, targetEva, reason: 'ABORTED' };
    if (innerEvent.status !== ConnectionStatus.CONNECTED) return { ...innerEvent, targetEva };
    if (this.sessions.has(targetEva)) return { status: ConnectionStatus.CONNECTED, targetEva };
    return new Promise<ConnectionEvent>((resolve) => {
      const waiter = (event: ConnectionEvent): void => {
        signal.removeEventListener('abort', onAbort);
        resolve(event);
      };
      const onAbort = (): void => {
        const attempt = this.attempts.get(targetEva);
        if (attempt?.waiters.includes(waiter)) this.endAttempt(targetEva, attempt, { status: ConnectionStatus.FAILED, targetEva, reason: 'ABORTED' });
      };
      signal.addEventListener('abort', onAbort, { once: true });
      // The peer's handshake may be under way already (a simultaneous open, or it opened first): wait for it.
      const existing = this.attempts.get(targetEva);
      if (existing) {
        existing.waiters.push(waiter);
        return;
      }
      const id = randomId();
      const state = new HandshakeState(true, prologue(this.eva, targetEva, id), this.config.identity.staticKeyPair());
      const attempt: Attempt = { id, initiator: true, state, session: null, waiters: [waiter] };
      this.attempts.set(targetEva, attempt);
      this.remember(targetEva, id);
      this.sendRecord(targetEva, encodeHandshake(RecordType.msg1, id, state.writeMessage()));
    });
  }

  protected override disconnect(targetEva: string): void {
    this.dropSession(targetEva);
    super.disconnect(targetEva);
  }

  protected override teardown(peers: string[]): void {
    for (const [peer, attempt] of [...this.attempts]) this.endAttempt(peer, attempt, { status: ConnectionStatus.FAILED, targetEva: peer, reason: 'DESTROYED' });
    for (const peer of [...this.sessions.keys()]) this.dropSession(peer);
    super.teardown(peers);
  }

  protected override transmit(targetEva: string, message: unknown): void {
    const session = this.sessions.get(targetEva);
    if (!session) throw new VnfError('NOT_CONNECTED', `${this.eva} has no secure session with ${targetEva}. Call openConnection first.`);
    let plaintext: Uint8Array;
    if (typeof message === 'string') {
      const text = encoder.encode(message);
      plaintext = new Uint8Array(text.length + 1);
      plaintext[0] = Kind.string;
      plaintext.set(text, 1);
    } else {
      const bytes = toUint8Array(message as Uint8Array | ArrayBuffer);
      plaintext = new Uint8Array(bytes.length + 1);
      plaintext[0] = Kind.binary;
      plaintext.set(bytes, 1);
    }
    const record = session.seal(plaintext);
    try {
      this.inner.send(targetEva, record);
    } catch (err) {
      // Refused beneath (BUFFER_FULL, …): the counter is taken back, or the next record would look like a gap.
      session.unseal(plaintext.length);
      throw err;
    }
  }

  protected override receive(sourceEva: string, raw: unknown): void {
    if (!(raw instanceof Uint8Array) || raw.length < HANDSHAKE_HEADER) return this.protocolError(sourceEva, 'a record that is not SecureHub binary');
    switch (raw[0]) {
      case RecordType.transport:
        return this.onTransport(sourceEva, raw);
      case RecordType.msg1:
        return this.onMessage1(sourceEva, raw);
      case RecordType.msg2:
        return void this.onMessage2(sourceEva, raw);
      case RecordType.msg3:
        return void this.onMessage3(sourceEva, raw);
      case RecordType.refuse:
        return this.onRefuse(sourceEva, raw);
      default:
        return this.protocolError(sourceEva, `a record of unknown type ${raw[0]}`);
    }
  }

  protected override innerConnected(_peerEva: string): void {
    // An inner connection alone is not a secure one: that starts with the handshake's first message.
  }

  protected override innerConnectionLost(peerEva: string): void {
    const attempt = this.attempts.get(peerEva);
    if (attempt) this.endAttempt(peerEva, attempt, { status: ConnectionStatus.FAILED, targetEva: peerEva, reason: 'UNAVAILABLE' });
    this.dropSession(peerEva);
    this.connectionLost(peerEva);
  }

  // ---- the handshake --------------------------------------------------------------------------

  /** Responder: message 1 (-> e). */
  private onMessage1(peer: string, record: Uint8Array): void {
    const id = recordId(record);
    if (this.recent.get(peer)?.includes(id)) return; // a copy of a handshake message already seen
    const mine = this.attempts.get(peer);
    if (mine?.initiator && this.eva < peer) return; // both opened at once: the smaller eva's handshake goes on
    const waiters = mine ? mine.waiters.splice(0) : [];
    if (mine) this.endAttempt(peer, mine, null);
    if (this.sessions.has(peer)) {
      // The peer starts afresh on a connection we still hold: it no longer has the old session.
      this.dropSession(peer);
      this.connectionLost(peer);
    }
    this.remember(peer, id);
    const state = new HandshakeState(false, prologue(peer, this.eva, id), this.config.identity.staticKeyPair());
    let message2: Uint8Array;
    try {
      state.readMessage(record.subarray(HANDSHAKE_HEADER));
      message2 = state.writeMessage();
    } catch (err) {
      return this.handshakeFailed(peer, null, err, waiters);
    }
    const attempt: Attempt = { id, initiator: false, state, session: null, waiters };
    this.attempts.set(peer, attempt);
    this.sendRecord(peer, encodeHandshake(RecordType.msg2, id, message2));
  }

  /** Initiator: message 2 (<- e, ee, s, es): check the responder's key, then message 3. */
  private async onMessage2(peer: string, record: Uint8Array): Promise<void> {
    const attempt = this.attempts.get(peer);
    if (!attempt || !attempt.initiator || attempt.id !== recordId(record) || attempt.state.remoteStatic !== null) return this.stray(peer, 'message 2');
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
    attempt.session = new TransportSession(attempt.id, peer, remoteStatic, handshakeHash, send, receive, this.config);
    this.sendRecord(peer, encodeHandshake(RecordType.msg3, attempt.id, message3));
  }

  /** Responder: message 3 (-> s, se): check the initiator's key; the connection is open, and `ready` confirms it. */
  private async onMessage3(peer: string, record: Uint8Array): Promise<void> {
    const attempt = this.attempts.get(peer);
    if (!attempt || attempt.initiator || attempt.id !== recordId(record) || attempt.state.finished) return this.stray(peer, 'message 3');
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
    const session = new TransportSession(attempt.id, peer, remoteStatic, handshakeHash, send, receive, this.config);
    this.attempts.delete(peer);
    this.sessions.set(peer, session);
    // `ready` goes first: a `connection` listener may send at once, and the initiator waits for `ready` before anything.
    this.sendRecord(peer, session.seal(Uint8Array.of(Kind.ready)));
    this.acceptConnection(peer);
    for (const waiter of attempt.waiters) waiter({ status: ConnectionStatus.CONNECTED, targetEva: peer });
  }

  private onRefuse(peer: string, record: Uint8Array): void {
    const attempt = this.attempts.get(peer);
    if (!attempt || attempt.id !== recordId(record)) return;
    let reason = 'KEY_MISMATCH';
    try {
      const text = decoder.decode(record.subarray(HANDSHAKE_HEADER));
      if (/^[A-Z_]{1,32}$/.test(text)) reason = text;
    } catch {
      // Unreadable: keep KEY_MISMATCH.
    }
    log('%s: %s refused the handshake (%s)', this.eva, peer, reason);
    this.endAttempt(peer, attempt, { status: ConnectionStatus.FAILED, targetEva: peer, reason });
  }

  /**
   * Whether `key` may speak for `peer`: pinned already, or pinned now (trust on first use), or a changed key that
   * `acceptKeyChange` lets in. Emits `keyChanged` for a pinned eva presenting another key.
   */
  private async trusted(peer: string, key: Uint8Array): Promise<boolean> {
    const { keyStore, trustOnFirstUse, acceptKeyChange } = this.config;
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
      this.reportError(new VnfError('INTERNAL', `The key store failed for ${peer}, so the connection was refused: ${String(cause)}`, { cause }));
      return false;
    }
    if (this.destroyed) return false;
    const event: KeyChangedEvent = {
      eva: peer,
      previousKey: toUint8Array(pinned).slice(),
      previousFingerprint: fingerprint(toUint8Array(pinned)),
      presentedKey: key.slice(),
      presentedFingerprint: fingerprint(key),
      accepted: acceptKeyChange,
    };
    if (this.listenerCount('keyChanged') > 0) {
      const emit = this.emit as (name: string, ...args: unknown[]) => boolean;
      callUserListener(this, () => emit.call(this, 'keyChanged', event), () => `endpoint ${this.eva} (keyChanged)`);
    }
    return acceptKeyChange;
  }

  // ---- the transport phase --------------------------------------------------------------------

  private onTransport(peer: string, record: Uint8Array): void {
    const session = this.sessions.get(peer);
    if (!session) {
      const attempt = this.attempts.get(peer);
      if (attempt?.initiator && attempt.session) return this.onConfirmation(peer, attempt, attempt.session, record);
      return this.stray(peer, 'a transport record');
    }
    const opened = session.open(record);
    if (typeof opened === 'string') return this.integrityFault(peer, opened, record);
    this.deliverPlaintext(peer, opened);
  }

  private deliverPlaintext(peer: string, opened: Uint8Array): void {
    if (opened.length === 0) return this.protocolError(peer, 'an empty record');
    const kind = opened[0];
    if (kind === Kind.binary) return this.deliver(peer, opened.slice(1));
    if (kind === Kind.string) {
      let text: string;
      try {
        text = decoder.decode(opened.subarray(1));
      } catch {
        return this.protocolError(peer, 'a string record that is not UTF-8');
      }
      return this.deliver(peer, text);
    }
    if (kind === Kind.ready) return; // a late copy over a lossy inner (ordered inners refuse it as a replay)
    this.protocolError(peer, `a record of unknown kind ${kind}`);
  }

  /**
   * Initiator: the responder's first record, `ready`, proves it derived the same keys: the connection is open. Over
   * `ordered: false` any record of the session that authenticates proves it too (`ready` may be late or lost).
   */
  private onConfirmation(peer: string, attempt: Attempt, session: TransportSession, record: Uint8Array): void {
    const opened = session.open(record);
    if (typeof opened === 'string' || (this.config.ordered && opened[0] !== Kind.ready)) {
      if (this.config.ordered) return this.refuse(peer, attempt, 'KEY_MISMATCH');
      this.drops++;
      return;
    }
    this.attempts.delete(peer);
    this.sessions.set(peer, session);
    // Accept now, before openConnection resolves: the peer may send right behind its `ready`.
    this.acceptConnection(peer);
    for (const waiter of attempt.waiters) waiter({ status: ConnectionStatus.CONNECTED, targetEva: peer });
    if (opened[0] !== Kind.ready) this.deliverPlaintext(peer, opened);
  }

  /** A record that failed its checks: fatal over an ordered inner hub (INTEGRITY), dropped and counted otherwise. */
  private integrityFault(peer: string, fault: RecordFault, record: Uint8Array): void {
    const header = record.length >= 17 ? describeHeader(record) : 'too short';
    if (!this.config.ordered) {
      this.drops++;
      log('%s: dropped a record from %s (%s; %s)', this.eva, peer, fault, header);
      return;
    }
    const error = new VnfError(
      'INTEGRITY',
      `A record from ${peer} to ${this.eva} failed its check (${FAULTS[fault]}), so the connection was ended: something beneath ` +
        'SecureHub changed, repeated, reordered or forged it. Open a new connection; if it keeps happening, the path is under attack ' +
        '(or the inner hub loses or reorders: then use { ordered: false }).',
      { details: { eva: this.eva, sourceEva: peer, fault } },
    );
    this.dropSession(peer);
    if (!this.inner.destroyed && this.inner.isConnected(peer)) this.inner.closeConnection(peer);
    this.reportError(error);
    this.connectionLost(peer);
  }

  // ---- helpers --------------------------------------------------------------------------------

  private handshakeFailed(peer: string, attempt: Attempt | null, err: unknown, waiters: Array<(event: ConnectionEvent) => void> = []): void {
    if (!(err instanceof HandshakeFailure)) throw err;
    log('%s: handshake with %s failed: %s', this.eva, peer, err.message);
    if (attempt) return this.refuse(peer, attempt, 'KEY_MISMATCH');
    for (const waiter of waiters) waiter({ status: ConnectionStatus.FAILED, targetEva: peer, reason: 'KEY_MISMATCH' });
  }

  /** Ends a handshake this side will not finish: tells the peer (a hint: unauthenticated) and closes the inner connection. */
  private refuse(peer: string, attempt: Attempt, reason: string): void {
    this.sendRecord(peer, encodeHandshake(RecordType.refuse, attempt.id, encoder.encode(reason)));
    this.endAttempt(peer, attempt, { status: ConnectionStatus.FAILED, targetEva: peer, reason });
    if (!this.hasConnection(peer) && !this.inner.destroyed && this.inner.isConnected(peer)) this.inner.closeConnection(peer);
  }

  private endAttempt(peer: string, attempt: Attempt, event: ConnectionEvent | null): void {
    if (this.attempts.get(peer) === attempt) this.attempts.delete(peer);
    attempt.session?.clear();
    const waiters = attempt.waiters.splice(0);
    if (event) for (const waiter of waiters) waiter(event);
  }

  private dropSession(peer: string): void {
    const session = this.sessions.get(peer);
    if (!session) return;
    this.sessions.delete(peer);
    session.clear();
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

  private stray(peer: string, what: string): void {
    log('%s: ignored %s from %s (no handshake or session it belongs to)', this.eva, what, peer);
  }

  private sendRecord(peer: string, record: Uint8Array): void {
    if (this.inner.destroyed || !this.inner.isConnected(peer)) return;
    try {
      this.inner.send(peer, record);
    } catch (err) {
      log('%s: record to %s not sent: %s', this.eva, peer, String(err));
    }
  }

  private protocolError(peer: string, what: string): void {
    this.reportError(
      new VnfError('PROTOCOL', `${this.eva} got ${what} from ${peer}; it was dropped. Both endpoints must use SecureHub over the same kind of inner hub.`, {
        details: { eva: this.eva, sourceEva: peer },
      }),
    );
  }
}

const FAULTS: Record<RecordFault, string> = {
  session: 'it belongs to another session',
  sequence: 'a record is missing before it, or it was moved ahead',
  replay: 'its counter was used already: a replay, or moved back',
  epoch: 'its key epoch is not the current one',
  tag: 'its authentication tag does not verify: tampered or forged',
  short: 'too short to be a record',
};

function equalBytes(a: Uint8Array | ArrayBuffer, b: Uint8Array): boolean {
  const x = toUint8Array(a);
  if (x.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x[i]! ^ b[i]!;
  return diff === 0;
}

function describeHeader(record: Uint8Array): string {
  const view = new DataView(record.buffer, record.byteOffset, record.byteLength);
  const header: TransportHeader = { session: view.getUint32(1), epoch: view.getUint32(5), counter: view.getBigUint64(9) };
  return `session ${header.session}, epoch ${header.epoch}, counter ${header.counter}`;
}
