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
  type ErrorCode,
  type Payload,
} from '@vnf/core';
import { Acknowledgements } from './Acknowledgements';
import { Handshakes, type HandshakeHost, type KeyChangedEvent } from './Handshakes';
import { Outbox } from './Outbox';
import { Plaintexts } from './Plaintexts';
import { ReceivedKeys, type GroupFault } from './ReceivedKeys';
import { TAG_LENGTH } from './CipherState';
import { HANDSHAKE_HEADER, Kind, RECORD_OVERHEAD, RecordType, TRANSPORT_HEADER, describeHeader, integrityError, messagePlaintext } from './records';
import { SenderKeys } from './SenderKeys';
import type { PeerIdentity, RecordFault, TransportSession } from './TransportSession';
import type { SecureConfig } from './options';

const log = createLogger('secure-hub');
const encoder = new TextEncoder();

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

/**
 * An endpoint of a SecureHub: every connection runs a Noise XX handshake over the inner connection before it is
 * reported open, and every message travels as one ChaCha20-Poly1305 record with an explicit counter. See the
 * package README for the protocol and what it guarantees.
 */
export class SecureEndpoint<Inner extends Endpoint = Endpoint> extends DecoratorEndpoint<Inner> {
  private readonly config: SecureConfig;
  private readonly sessions = new Map<string, TransportSession>();
  private readonly handshakes: Handshakes;
  private readonly acks = new Acknowledgements();
  /** This endpoint's sender keys (null with `senderKeys: 'off'`) and the ones its peers handed it. */
  private readonly senders: SenderKeys | null;
  private readonly received: ReceivedKeys;
  /** The messages of this turn to each peer, sealed together at its end. */
  private readonly outbox: Outbox;
  private readonly plaintexts: Plaintexts;
  /** The acknowledgement id the message `transmit` is sealing now carries (sendAcknowledged), else null. */
  private acking: number | null = null;
  private drops = 0;
  /** The peer whose owed drain fires regardless of the buffer (heldBatchLeft), while it is checked. */
  private forcedDrain: string | null = null;

  constructor(inner: Inner, endpointOptions: EndpointOptions, config: SecureConfig) {
    super(inner, { ...endpointOptions, connectTimeoutMs: config.connectTimeoutMs });
    this.config = config;
    this.handshakes = new Handshakes(this.createHost());
    const sendPairwise = (peer: string, plaintext: Uint8Array): boolean => this.sendPairwise(peer, plaintext);
    this.senders =
      config.senderKeys === 'off'
        ? null
        : new SenderKeys(
            {
              signed: config.senderKeys === 'signed',
              rekeyAfterMessages: config.rekeyAfterMessages,
              rekeyAfterBytes: config.rekeyAfterBytes,
              maxRecordBytes: this.maxPayloadSize + RECORD_OVERHEAD,
            },
            {
              sendPairwise,
              multicast: (targets, record) => {
                if (!this.inner.destroyed) this.inner.multicast(targets, record);
              },
              flushed: () => this.checkDrain(),
            },
          );
    this.received = new ReceivedKeys(config.replayWindow, { sendPairwise });
    this.plaintexts = new Plaintexts({
      deliver: (peer, message) => this.deliver(peer, message),
      isOpen: (peer) => !this.destroyed && this.sessions.has(peer) && this.hasConnection(peer),
      protocolError: (peer, what) => this.protocolError(peer, what),
      acknowledged: (peer, id) => this.acks.acknowledged(peer, id),
      sendPairwise,
      senderKey: (peer, grant) => this.received.add(peer, grant),
      senderKeyRequested: (peer, id) => this.senders?.requested(peer, id),
    });
    const recordPlaintext = this.maxPayloadSize + RECORD_OVERHEAD - TRANSPORT_HEADER - TAG_LENGTH;
    this.outbox = new Outbox(Math.min(recordPlaintext, config.rekeyAfterBytes), config.rekeyAfterMessages, {
      sealAndSend: (peer, plaintext, messages) => this.sealAndSend(peer, plaintext, messages),
      refused: (peer) => this.oweDrain(peer),
      moved: (peer) => this.heldBatchLeft(peer),
    });
    this.peerIdentity = this.peerIdentity.bind(this);
    this.rekeys = this.rekeys.bind(this);
    this.sendAcknowledged = this.sendAcknowledged.bind(this);
  }

  /**
   * Sends like `send` and resolves once the peer's SecureHub handed the message to its application. The
   * acknowledgement travels sealed under the session's keys, so nothing beneath (a ReliableHub, the broker) can
   * forge it. Throws at the call what `send` throws (and BUFFER_FULL past 4 096 awaited); rejects when the
   * connection ends first: NOT_CONNECTED (closed or lost), INTEGRITY (a record failed its check), DESTROYED.
   * Over `ordered: false` a message lost beneath leaves its promise waiting until the connection ends.
   */
  sendAcknowledged(targetEva: string, message: Payload): Promise<void> {
    this.assertAlive('sendAcknowledged');
    const { id, promise } = this.acks.reserve(targetEva);
    this.acking = id;
    try {
      this.send(targetEva, message);
    } catch (err) {
      this.acks.release(targetEva, id);
      throw err;
    } finally {
      this.acking = null;
    }
    return promise;
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
    return this.handshakes.open(targetEva, signal);
  }

  protected override disconnect(targetEva: string): void {
    // What was sent before the close goes before it.
    this.senders?.flush();
    this.outbox.flush();
    this.dropSession(targetEva, 'NOT_CONNECTED', 'this endpoint closed the connection');
    super.disconnect(targetEva);
  }

  protected override teardown(peers: string[]): void {
    this.handshakes.failAll('DESTROYED');
    this.senders?.flush();
    this.outbox.flush();
    this.senders?.close();
    this.outbox.clear();
    for (const peer of [...this.sessions.keys()]) this.dropSession(peer, 'DESTROYED', 'this endpoint was destroyed');
    this.received.clear();
    super.teardown(peers);
  }

  protected override transmit(targetEva: string, message: unknown): void {
    // Multicasts of this turn leave first: a message sent after a multicast arrives after it.
    this.senders?.flush();
    const session = this.sessions.get(targetEva);
    if (!session) throw new VnfError('NOT_CONNECTED', `${this.eva} has no secure session with ${targetEva}. Call openConnection first.`);
    const acking = this.acking;
    this.acking = null; // this message only, never one a listener sends from inside the send beneath
    this.outbox.add(targetEva, messagePlaintext(message as string | Uint8Array | ArrayBuffer, acking));
    // Past highWaterMark the turn's messages go beneath now: a drain owed here is then owed beneath too, whose
    // drain brings this one (the bytes waiting for the end of the turn have no signal of their own).
    if (this.queuedBytes(targetEva) > this.drainHigh) this.outbox.flush();
  }

  /**
   * A multicast to two or more targets: one record under the sender key of the target set (SenderKeys), sealed at the
   * end of the turn with the others to the same set. A message too large for a group record goes pairwise.
   */
  protected override transmitToMany(targets: readonly string[], message: unknown): void {
    const senders = this.senders;
    if (senders === null || targets.length < 2) return super.transmitToMany(targets, message);
    // Sends of this turn leave first: a message multicast after a send arrives after it. A target whose batch waits
    // for beneath's drain misses the multicast, as a target past highWaterMark does.
    this.outbox.flush();
    if (targets.some((target) => this.outbox.isHeld(target))) targets = targets.filter((target) => !this.outbox.isHeld(target));
    if (targets.length === 0) return;
    const isText = typeof message === 'string';
    // A copy: the record is sealed later in the turn, and the caller may reuse its buffer meanwhile.
    const body = isText ? encoder.encode(message) : toUint8Array(message as Uint8Array | ArrayBuffer).slice();
    if (!senders.fits(body.length)) return super.transmitToMany(targets, message);
    senders.multicast(targets, isText ? Kind.string : Kind.binary, body);
    // As for a send: past highWaterMark toward any target, the turn's multicasts go beneath now.
    if (targets.some((target) => this.queuedBytes(target) > this.drainHigh)) senders.flush();
  }

  /** Beneath's bytes, and the multicasts of this turn not yet sealed. */
  protected override queuedBytes(targetEva: string): number {
    return super.queuedBytes(targetEva) + this.outbox.bytes(targetEva) + (this.senders?.pendingBytes(targetEva) ?? 0);
  }

  protected override receive(sourceEva: string, raw: unknown): void {
    if (!(raw instanceof Uint8Array) || raw.length < HANDSHAKE_HEADER) return this.protocolError(sourceEva, 'a record that is not SecureHub binary');
    switch (raw[0]) {
      case RecordType.transport:
        return this.onTransport(sourceEva, raw);
      case RecordType.group:
        return this.onGroup(sourceEva, raw);
      case RecordType.msg1:
        return this.handshakes.onMessage1(sourceEva, raw);
      case RecordType.msg2:
        return void this.handshakes.onMessage2(sourceEva, raw);
      case RecordType.msg3:
        return void this.handshakes.onMessage3(sourceEva, raw);
      case RecordType.refuse:
        return this.handshakes.onRefuse(sourceEva, raw);
      default:
        return this.protocolError(sourceEva, `a record of unknown type ${raw[0]}`);
    }
  }

  protected override innerConnected(_peerEva: string): void {
    // An inner connection alone is not a secure one: that starts with the handshake's first message.
  }

  /**
   * A batch refused beneath (BUFFER_FULL) left on beneath's drain. If beneath is now below its highWaterMark it owes
   * no further drain, so the one owed here fires now, even if the batch keeps the buffer above lowWaterMark.
   */
  private heldBatchLeft(peer: string): void {
    if (this.inner.destroyed || this.inner.bufferedAmount(peer) > this.drainHigh) return this.checkDrain(peer);
    this.forcedDrain = peer;
    try {
      this.checkDrain(peer);
    } finally {
      this.forcedDrain = null;
    }
  }

  protected override drained(peerEva: string, lowWaterMark: number): boolean {
    return this.forcedDrain === peerEva || super.drained(peerEva, lowWaterMark);
  }

  protected override innerDrain(peerEva: string): void {
    this.outbox.drained(peerEva);
    super.innerDrain(peerEva);
  }

  protected override innerConnectionLost(peerEva: string): void {
    this.handshakes.fail(peerEva, 'UNAVAILABLE');
    this.dropSession(peerEva, 'NOT_CONNECTED', 'the connection was lost');
    this.connectionLost(peerEva);
  }

  // ---- the handshakes' host ------------------------------------------------------------------

  private createHost(): HandshakeHost {
    return {
      eva: this.eva,
      config: this.config,
      isDestroyed: () => this.destroyed,
      sendRecord: (peer, record) => this.sendRecord(peer, record),
      restarted: (peer) => {
        if (!this.sessions.has(peer)) return;
        this.dropSession(peer, 'NOT_CONNECTED', 'the peer restarted');
        this.connectionLost(peer);
      },
      adopt: (peer, session) => {
        this.sessions.set(peer, session);
      },
      accept: (peer) => this.acceptConnection(peer),
      deliverPlaintext: (peer, plaintext) => this.plaintexts.transport(peer, plaintext),
      dropped: () => {
        this.drops++;
      },
      keyChanged: (event) => {
        if (this.listenerCount('keyChanged') === 0) return;
        const emit = this.emit as (name: string, ...args: unknown[]) => boolean;
        callUserListener(this, () => emit.call(this, 'keyChanged', event), () => `endpoint ${this.eva} (keyChanged)`);
      },
      reportError: (error) => this.reportError(error),
      closeInner: (peer) => {
        if (!this.hasConnection(peer) && !this.inner.destroyed && this.inner.isConnected(peer)) this.inner.closeConnection(peer);
      },
    };
  }

  // ---- the transport phase --------------------------------------------------------------------

  private onTransport(peer: string, record: Uint8Array): void {
    const session = this.sessions.get(peer);
    if (!session) return this.handshakes.onTransport(peer, record);
    const opened = session.open(record);
    if (typeof opened === 'string') return this.integrityFault(peer, opened, record);
    this.plaintexts.transport(peer, opened);
  }

  /** A group record from `peer`: opened under the sender key it handed this endpoint, its messages delivered in order. */
  private onGroup(peer: string, record: Uint8Array): void {
    // Sender keys are handed over a session and go with it: without one, none is held.
    if (!this.sessions.has(peer)) return;
    const opened = this.received.open(peer, record);
    if (opened === 'unknown') return;
    if (typeof opened === 'string') return this.integrityFault(peer, opened, record);
    this.plaintexts.group(peer, opened);
  }

  /** A record that failed its checks: fatal over an ordered inner hub (INTEGRITY), dropped and counted otherwise. */
  private integrityFault(peer: string, fault: RecordFault | GroupFault, record: Uint8Array): void {
    const header = record.length >= 17 ? describeHeader(record) : 'too short';
    if (!this.config.ordered) {
      this.drops++;
      log('%s: dropped a record from %s (%s; %s)', this.eva, peer, fault, header);
      return;
    }
    const error = integrityError(this.eva, peer, fault);
    this.dropSession(peer, 'INTEGRITY', 'a record from the peer failed its check');
    if (!this.inner.destroyed && this.inner.isConnected(peer)) this.inner.closeConnection(peer);
    this.reportError(error);
    this.connectionLost(peer);
  }

  // ---- helpers --------------------------------------------------------------------------------

  private dropSession(peer: string, code: ErrorCode, why: string): void {
    this.acks.fail(peer, code, why);
    this.outbox.drop(peer);
    this.senders?.forget(peer);
    this.received.forget(peer);
    const session = this.sessions.get(peer);
    if (!session) return;
    this.sessions.delete(peer);
    session.clear();
  }

  /** Seals `plaintext` to `peer` under their session and hands the record beneath; throws what beneath throws. */
  private sealAndSend(peer: string, plaintext: Uint8Array, messages: number): void {
    const session = this.sessions.get(peer);
    if (!session) throw new VnfError('NOT_CONNECTED', `${this.eva} has no secure session with ${peer}. Call openConnection first.`);
    const record = session.seal(plaintext, messages);
    try {
      this.inner.send(peer, record);
    } catch (err) {
      // Refused beneath (BUFFER_FULL, …): the counter is taken back, or the next record would look like a gap.
      session.unseal(plaintext.length, messages);
      throw err;
    }
  }

  /** Seals `plaintext` to `peer` under their session and sends it; false when it cannot be now (the counter is taken back). */
  private sendPairwise(peer: string, plaintext: Uint8Array): boolean {
    const session = this.sessions.get(peer);
    if (!session || this.inner.destroyed || !this.inner.isConnected(peer)) return false;
    const record = session.seal(plaintext);
    try {
      this.inner.send(peer, record);
      return true;
    } catch (err) {
      session.unseal(plaintext.length);
      log('%s: record to %s not sent: %s', this.eva, peer, String(err));
      return false;
    }
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

