import {
  ConnectionStatus,
  DecoratorEndpoint,
  VnfError,
  createLogger,
  deferred,
  payloadByteLength,
  type ConnectionEvent,
  type Endpoint,
  type EndpointOptions,
  type Payload,
} from '@vnf/core';
import {
  FRAME_OVERHEAD,
  decodeFrame,
  encodeAck,
  encodeData,
  encodeHello,
  encodeReset,
  encodeSignal,
  randomSession,
  randomTag,
  type Frame,
  type HandshakeFrame,
} from './frameCodec';
import { Link, type LinkHandlers } from './Link';
import { PeerMemory } from './PeerMemory';
import { Timer } from './Timer';
import type { ResolvedOptions } from './options';

const log = createLogger('reliable-hub');

/** Acknowledge at least every this many in-order messages, whatever `ackDelayMs` says. */
const MAX_ACK_EVERY = 16;
/**
 * Times an acknowledgement is repeated, `ackDelayMs` apart, while the receiver holds a gap and no data arrives:
 * if it was lost, the sender learns what is missing without waiting for its probe timeout.
 */
const ACK_REPEATS = 2;
/** Copies of a CLOSE frame: it is sent once and never retransmitted, so it must survive a lossy inner hub. */
const CLOSE_COPIES = 3;
/** How soon to try again when the inner endpoint's buffer is full and it may not emit `drain`. */
const PACE_RETRY_MS = 20;
/** Longest destroy() keeps the inner endpoint alive so its CLOSE frames can leave (see teardown). */
const LINGER_MAX_MS = 1000;
const LINGER_POLL_MS = 10;

type LossReason = 'closed' | 'reset' | 'superseded' | 'restarted' | 'timeout' | 'failed';

interface PendingOpen {
  readonly tag: number;
  readonly n: number;
  retryMs: number;
  reopening: boolean;
  finish(event: ConnectionEvent): void;
  resend(): void;
}

/**
 * An endpoint of a ReliableHub: exactly-once, in-order delivery over an inner endpoint that may lose,
 * duplicate or reorder frames and drop its connections. See the package README for the protocol.
 */
export class ReliableEndpoint<Inner extends Endpoint = Endpoint> extends DecoratorEndpoint<Inner> {
  /** This endpoint instance's session id: a peer that sees it change knows this endpoint restarted. */
  readonly session = randomSession();
  private readonly options: ResolvedOptions;
  private readonly links = new Map<string, Link>();
  private readonly pendingOpens = new Map<string, PendingOpen>();
  private readonly peerMemory = new PeerMemory();
  private helloCounter = 0;
  private readonly handlers: LinkHandlers;
  private readonly lingerTimer = new Timer(() => this.lingerCheck());
  private lingerDeadline = 0;
  private lingerPeers: string[] = [];
  private readonly released = deferred<void>();

  /**
   * `onLinger` is told when destroy() keeps the inner endpoint for a moment (the hub waits for it on close,
   * and ends it at once when the eva is opened again).
   */
  constructor(
    inner: Inner,
    endpointOptions: EndpointOptions,
    options: ResolvedOptions,
    private readonly onLinger?: (endpoint: ReliableEndpoint<Inner>) => void,
  ) {
    super(inner, { ...endpointOptions, connectTimeoutMs: options.connectTimeoutMs });
    this.options = options;
    inner.on('online', () => this.innerOnline());
    this.handlers = {
      retransmit: (link) => this.service(link),
      ack: (link) => this.sendAck(link),
      repeatAck: (link) => {
        if (!link.recv.hasGap) return;
        link.ackRepeats++;
        this.sendAck(link);
      },
      heartbeat: (link) => this.heartbeat(link),
      restoreExpired: (link) =>
        this.lose(
          link,
          'timeout',
          new VnfError(
            'TIMEOUT',
            `The connection from ${this.eva} to ${link.peer} could not be restored within ${this.options.restoreTimeoutMs} ms; ` +
              'messages not yet acknowledged may be lost. Open a new connection when the peer is reachable again.',
            { details: { eva: this.eva, targetEva: link.peer } },
          ),
        ),
      reopen: (link) => this.reopen(link),
    };
    this.sendAcknowledged = this.sendAcknowledged.bind(this);
  }

  /**
   * Sends like `send` and resolves once the peer's application has been handed the message.
   * Throws at the call what `send` throws; rejects when the connection ends first (with the reason's code,
   * NOT_CONNECTED when it was closed, DESTROYED when this endpoint was destroyed).
   */
  sendAcknowledged(targetEva: string, message: Payload): Promise<void> {
    this.send(targetEva, message);
    // `send` is synchronous: the message it just accepted has the highest sequence number.
    const link = this.links.get(targetEva)!;
    const waiter = deferred<void>();
    link.waiters.set(link.send.nextSeq - 1, waiter);
    return waiter.promise;
  }

  /** Payload bytes accepted by `send` toward `targetEva` and not yet acknowledged by the peer. */
  protected override queuedBytes(targetEva: string): number {
    return this.links.get(targetEva)?.send.bytes ?? 0;
  }

  // ---- DecoratorEndpoint hooks ----------------------------------------------------------------

  /** Our `drain` is about our own buffer; the inner one only tells us to resume sending. */
  protected override innerDrain(peerEva: string): void {
    const link = this.links.get(peerEva);
    if (link) this.service(link);
  }

  protected override async connect(targetEva: string, signal: AbortSignal): Promise<ConnectionEvent> {
    const innerEvent = await this.inner.openConnection(targetEva);
    if (signal.aborted) return { status: ConnectionStatus.FAILED, targetEva, reason: 'ABORTED' };
    if (innerEvent.status !== ConnectionStatus.CONNECTED) return { ...innerEvent, targetEva };
    // The peer's handshake may have arrived (and won) while the inner connection opened.
    if (this.links.has(targetEva)) return { status: ConnectionStatus.CONNECTED, targetEva };
    return this.handshake(targetEva, signal);
  }

  protected override transmit(targetEva: string, message: unknown): void {
    const link = this.links.get(targetEva);
    if (!link) {
      throw new VnfError('NOT_CONNECTED', `${this.eva} has no open connection to ${targetEva}. Call openConnection first.`);
    }
    const payload = message as Payload;
    const size = payloadByteLength(payload);
    const { send } = link;
    if (send.size >= this.options.maxBufferedMessages || (send.size > 0 && send.bytes + size > this.options.maxBufferedBytes)) {
      this.oweDrain(targetEva);
      throw new VnfError(
        'BUFFER_FULL',
        `The send buffer from ${this.eva} to ${targetEva} is full (${send.bytes} bytes in ${send.size} messages not yet ` +
          'acknowledged). Wait for the `drain` event, or pace on bufferedAmount(), then send again.',
        { details: { eva: this.eva, targetEva, bufferedBytes: send.bytes, bufferedMessages: send.size } },
      );
    }
    send.push(size, (seq) => encodeData(link.tag, seq, payload));
    this.pump(link);
  }

  protected override disconnect(targetEva: string): void {
    const link = this.links.get(targetEva);
    if (link) {
      this.links.delete(targetEva);
      this.sendClose(link);
      link.close(new VnfError('NOT_CONNECTED', `The connection to ${targetEva} was closed before the peer acknowledged the message.`));
    }
    super.disconnect(targetEva);
  }

  protected override teardown(_peers: string[]): void {
    // Handshakes under way were already ended: destroy() aborts them before it calls teardown.
    const destroyed = new VnfError('DESTROYED', `Endpoint ${this.eva} was destroyed before the peer acknowledged the message.`);
    for (const link of this.links.values()) {
      this.sendClose(link);
      link.close(destroyed);
    }
    this.lingerPeers = [...this.links.keys()];
    this.links.clear();
    // An inner layer that still holds the CLOSE frames (a chaos layer delaying them, a busy socket) would drop
    // them if destroyed now, and the peers would wait out restoreTimeoutMs instead of hearing at once.
    this.lingerDeadline = Date.now() + LINGER_MAX_MS;
    this.lingerCheck();
    if (!this.inner.destroyed) this.onLinger?.(this);
  }

  /** Resolves once the inner endpoint is destroyed (after destroy(): at once, or when its CLOSE frames left). */
  get innerReleased(): Promise<void> {
    return this.released.promise;
  }

  /** Ends the linger after destroy() now: destroys the inner endpoint. */
  releaseInner(): void {
    this.lingerTimer.clear();
    if (!this.inner.destroyed) super.teardown(this.lingerPeers);
    this.released.resolve();
  }

  private lingerCheck(): void {
    const flushed =
      this.inner.destroyed || this.lingerPeers.every((peer) => !this.inner.isConnected(peer) || this.inner.bufferedAmount(peer) === 0);
    if (flushed || Date.now() >= this.lingerDeadline) this.releaseInner();
    else this.lingerTimer.set(LINGER_POLL_MS);
  }

  protected override receive(sourceEva: string, raw: unknown): void {
    const frame = decodeFrame(raw);
    if (!frame) {
      this.reportError(
        new VnfError(
          'PROTOCOL',
          `${this.eva} got a frame from ${sourceEva} that is not a ReliableHub frame; it was dropped. ` +
            'Both endpoints must use ReliableHub over the same kind of inner hub.',
          { details: { eva: this.eva, sourceEva } },
        ),
      );
      return;
    }
    if (frame.type === 'hello') return this.onHello(sourceEva, frame);
    if (frame.type === 'helloAck') return this.onHelloAck(sourceEva, frame);
    const link = this.links.get(sourceEva);
    if (!link || link.tag !== frame.tag) return this.onStray(sourceEva, frame);
    if (frame.type === 'close') return this.lose(link, 'closed');
    if (frame.type === 'reset') return this.onReset(link, frame.session);
    this.heard(link);
    if (frame.type === 'data') this.onData(link, frame.seq, frame.payload);
    else if (frame.type === 'ack') this.onAck(link, frame.cum, frame.ranges);
    else this.sendAck(link);
  }

  protected override innerConnected(peerEva: string): void {
    // A peer's inner connection alone is not a reliable connection: that starts with the handshake.
    const link = this.links.get(peerEva);
    if (link && !link.innerUp) this.innerRestored(link);
  }

  protected override innerConnectionLost(peerEva: string): void {
    const link = this.links.get(peerEva);
    if (!link) return;
    log('%s: inner connection to %s lost; restoring', this.eva, peerEva);
    link.innerUp = false;
    link.retransmitTimer.clear();
    this.startRestoring(link);
    this.reopen(link);
  }

  // ---- handshake ------------------------------------------------------------------------------

  private handshake(targetEva: string, signal: AbortSignal): Promise<ConnectionEvent> {
    return new Promise<ConnectionEvent>((resolve) => {
      // Handshake frames may be lost like any other: repeat with backoff until answered or timed out.
      const retryTimer = new Timer(() => pending.resend());
      const onAbort = (): void => {
        // The peer may have accepted already: tell it, or it would keep a connection we gave up on.
        this.sendControl(targetEva, encodeSignal('close', pending.tag));
        pending.finish({ status: ConnectionStatus.FAILED, targetEva, reason: this.destroyed ? 'DESTROYED' : 'TIMEOUT' });
      };
      const pending: PendingOpen = {
        tag: randomTag(this.peerMemory.lastTag(targetEva)),
        n: ++this.helloCounter,
        retryMs: this.options.initialRtoMs,
        reopening: false,
        finish: (event) => {
          retryTimer.clear();
          signal.removeEventListener('abort', onAbort);
          if (this.pendingOpens.get(targetEva) === pending) this.pendingOpens.delete(targetEva);
          resolve({ ...event, targetEva });
        },
        resend: () => {
          if (this.pendingOpens.get(targetEva) !== pending) return;
          if (this.inner.destroyed) return;
          if (this.inner.isConnected(targetEva)) {
            this.sendControl(targetEva, encodeHello('hello', pending.tag, this.session, pending.n, this.options.sendWindow));
          } else if (!pending.reopening) {
            pending.reopening = true;
            void this.inner.openConnection(targetEva).then((event) => {
              pending.reopening = false;
              if (this.pendingOpens.get(targetEva) !== pending) return;
              if (event.status === ConnectionStatus.CONNECTED) pending.resend();
              else if (event.reason === 'NOT_FOUND') pending.finish(event);
            });
          }
          retryTimer.set(pending.retryMs);
          pending.retryMs = Math.min(this.options.maxRtoMs, pending.retryMs * 2);
        },
      };
      this.pendingOpens.set(targetEva, pending);
      signal.addEventListener('abort', onAbort, { once: true });
      pending.resend();
    });
  }

  private onHello(peer: string, frame: HandshakeFrame): void {
    if (this.peerMemory.isDead(peer, frame.session)) return;
    const link = this.links.get(peer);
    if (link?.tag === frame.tag) {
      // Our answer was lost: answer again.
      if (link.peerSession === frame.session) this.sendHelloAck(peer, frame.tag, 0);
      return;
    }
    if (this.peerMemory.isStale(peer, frame.session, frame.n)) return;
    const pending = this.pendingOpens.get(peer);
    // Both sides opened at once: the handshake of the endpoint with the smaller eva wins, the other adopts it.
    const ourOpenWins = pending !== undefined && this.eva < peer;
    this.peerMemory.remember(peer, frame.session, frame.n);
    if (ourOpenWins) return;
    if (link) {
      if (link.peerSession !== frame.session) {
        this.lose(link, 'restarted', this.peerRestarted(peer, 'The peer is connecting again: resend what your application needs.'));
      } else {
        // The peer closed the old connection (its CLOSE was lost) and opened this one.
        this.lose(link, 'superseded');
      }
    }
    this.createLink(peer, frame.tag, frame.session, frame.window);
    this.sendHelloAck(peer, frame.tag, pending?.n ?? 0);
    this.acceptConnection(peer);
    pending?.finish({ status: ConnectionStatus.CONNECTED, targetEva: peer });
  }

  private onHelloAck(peer: string, frame: HandshakeFrame): void {
    const pending = this.pendingOpens.get(peer);
    if (!pending || pending.tag !== frame.tag || this.peerMemory.isDead(peer, frame.session)) return;
    this.peerMemory.remember(peer, frame.session, frame.n);
    this.createLink(peer, frame.tag, frame.session, frame.window);
    // Accept now rather than when openConnection resolves: the peer may send right away.
    this.acceptConnection(peer);
    pending.finish({ status: ConnectionStatus.CONNECTED, targetEva: peer });
  }

  private sendHelloAck(peer: string, tag: number, abandonedN: number): void {
    this.sendControl(peer, encodeHello('helloAck', tag, this.session, abandonedN, this.options.sendWindow));
  }

  private createLink(peer: string, tag: number, peerSession: string, peerWindow: number): Link {
    const link = new Link(peer, tag, peerSession, peerWindow, this.options, this.handlers);
    this.links.set(peer, link);
    this.peerMemory.setLastTag(peer, tag);
    link.heartbeatTimer.set(this.heartbeatTick);
    return link;
  }

  /** Frames of a connection this endpoint does not have: from before a restart, or already closed here. */
  private onStray(peer: string, frame: Frame): void {
    if (this.pendingOpens.get(peer)?.tag === frame.tag) return; // our handshake answer is still on its way
    if (frame.type === 'data' || frame.type === 'probe') this.sendControl(peer, encodeReset(frame.tag, this.session));
  }

  /**
   * The peer does not know this connection. From another session it is a new instance of the peer (it restarted,
   * and never had the connection): PEER_RESTARTED, as when its HELLO shows the new session. From the same session
   * it ended the connection itself (its CLOSE frames were lost), or from a peer before 0.2.0 (no session): a
   * plain loss.
   */
  private onReset(link: Link, session: string | undefined): void {
    if (session === undefined || session === link.peerSession) return this.lose(link, 'reset');
    // The new session retires the old one, whose delayed frames are then ignored.
    this.peerMemory.remember(link.peer, session, 0);
    this.lose(link, 'restarted', this.peerRestarted(link.peer, 'Open a new connection to it: resend what your application needs.'));
  }

  private peerRestarted(peer: string, advice: string): VnfError {
    return new VnfError(
      'PEER_RESTARTED',
      `${peer} restarted, so messages from ${this.eva} it had not acknowledged may be lost; the connection was reported lost. ${advice}`,
      { details: { eva: this.eva, targetEva: peer } },
    );
  }

  // ---- data path ------------------------------------------------------------------------------

  private onData(link: Link, seq: number, payload: Payload): void {
    link.ackRepeats = 0;
    const hadGap = link.recv.hasGap;
    const arrival = link.recv.accept(seq, payload);
    if (arrival === 'outsideWindow') {
      log('%s: dropped message %d from %s: beyond the window', this.eva, seq, link.peer);
      return;
    }
    if (arrival !== 'inOrder') {
      // Early or duplicate: tell the sender at once what is missing (or that its retransmission was needless).
      this.scheduleAck(link);
      return;
    }
    let next: Payload | undefined = payload;
    let delivered = 0;
    while (next !== undefined) {
      // A binary payload is a view into the frame; hand over a copy that owns its buffer.
      this.deliver(link.peer, typeof next === 'string' ? next : (next as Uint8Array).slice());
      delivered++;
      // The application may have closed the connection or destroyed the endpoint in its handler.
      if (this.links.get(link.peer) !== link) return;
      next = link.recv.takeReady();
    }
    link.unacked += delivered;
    if (hadGap || link.unacked >= Math.min(MAX_ACK_EVERY, Math.ceil(this.options.sendWindow / 4))) this.scheduleAck(link);
    else if (!link.ackTimer.armed) link.ackTimer.set(this.options.ackDelayMs);
  }

  /** Acknowledges at the end of the current turn, so frames delivered in one batch share one ACK. */
  private scheduleAck(link: Link): void {
    if (link.ackScheduled) return;
    link.ackScheduled = true;
    queueMicrotask(() => {
      link.ackScheduled = false;
      if (this.links.get(link.peer) === link) this.sendAck(link);
    });
  }

  private sendAck(link: Link): void {
    link.ackTimer.clear();
    link.unacked = 0;
    this.sendControl(link.peer, encodeAck(link.tag, link.recv.cumulative, link.recv.ranges()));
    if (link.recv.hasGap && link.ackRepeats < ACK_REPEATS) link.repeatAckTimer.set(this.options.ackDelayMs);
    else link.repeatAckTimer.clear();
  }

  private onAck(link: Link, cum: number, ranges: Array<[number, number]>): void {
    const { advanced, released } = link.send.acknowledge(cum, ranges, performance.now());
    if (advanced) link.settleWaiters();
    this.service(link);
    if (released > 0) this.checkDrain(link.peer);
  }

  /** Declares losses, sends what may be sent and arms the retransmission timer. */
  private service(link: Link): void {
    if (!link.innerUp || this.links.get(link.peer) !== link) return;
    const now = performance.now();
    const next = link.send.detectLosses(now);
    if (next === null) link.retransmitTimer.clear();
    else link.retransmitTimer.set(next - now);
    this.pump(link);
  }

  /** Hands frames to the inner endpoint while the window and the inner buffer allow. */
  private pump(link: Link): void {
    if (!link.innerUp) return;
    const now = performance.now();
    let sent = false;
    // Read once: over RtcHub, bufferedAmount is a native call, too slow for every frame. The frames handed over
    // in this loop are counted as they go (their payload and at most a header each).
    let innerBuffered = -1;
    for (let entry = link.send.peek(); entry !== null; entry = link.send.peek()) {
      if (innerBuffered < 0) innerBuffered = this.inner.bufferedAmount(link.peer);
      if (innerBuffered >= this.options.innerHighWaterMark) {
        if (!link.retransmitTimer.armed) link.retransmitTimer.set(PACE_RETRY_MS);
        break;
      }
      if (!this.innerSend(link, entry.frame)) break;
      link.send.sent(entry, now);
      innerBuffered += entry.size + FRAME_OVERHEAD;
      sent = true;
    }
    if (sent && !link.retransmitTimer.armed) link.retransmitTimer.set(link.send.rtt.probeTimeout);
  }

  /** Sends a data frame; false when it could not be handed over now (the caller stops and retries later). */
  private innerSend(link: Link, frame: Payload): boolean {
    try {
      this.inner.send(link.peer, frame);
      return true;
    } catch (err) {
      if (VnfError.is(err, 'BUFFER_FULL')) {
        if (!link.retransmitTimer.armed) link.retransmitTimer.set(PACE_RETRY_MS);
      } else if (VnfError.is(err, 'NOT_CONNECTED') || VnfError.is(err, 'UNAVAILABLE')) {
        // The inner endpoint's lost-event may still be on its way; do not wait for it.
        this.innerConnectionLost(link.peer);
      } else {
        const cause = VnfError.is(err) ? err : new VnfError('INTERNAL', `The inner endpoint's send threw: ${String(err)}`, { cause: err });
        this.lose(link, 'failed', cause);
      }
      return false;
    }
  }

  /** Sends a control frame; best effort, since every control frame is repeated or answered when lost. */
  private sendControl(peer: string, frame: string): void {
    if (this.inner.destroyed || !this.inner.isConnected(peer)) return;
    try {
      this.inner.send(peer, frame);
    } catch (err) {
      log('%s: control frame to %s not sent: %s', this.eva, peer, String(err));
    }
  }

  private sendClose(link: Link): void {
    for (let i = 0; i < CLOSE_COPIES; i++) this.sendControl(link.peer, encodeSignal('close', link.tag));
  }

  /** Due once the unacknowledged bytes are at most lowWaterMark and the messages at most half the limit (after BUFFER_FULL on it). */
  protected override drained(peerEva: string, lowWaterMark: number): boolean {
    const send = this.links.get(peerEva)?.send;
    return !send || (send.bytes <= lowWaterMark && send.size <= this.options.maxBufferedMessages / 2);
  }

  // ---- liveness and restore -------------------------------------------------------------------

  private get heartbeatTick(): number {
    return this.options.heartbeatIntervalMs / 2;
  }

  private heartbeat(link: Link): void {
    const silentMs = Date.now() - link.lastHeard;
    if (silentMs >= this.options.heartbeatTimeoutMs && link.state === 'open') {
      log('%s: %s silent for %d ms; restoring', this.eva, link.peer, silentMs);
      this.startRestoring(link);
    }
    // The peer answers a probe with an ACK, so an idle connection still hears from its peer.
    if (silentMs >= this.options.heartbeatIntervalMs && link.innerUp) this.sendControl(link.peer, encodeSignal('probe', link.tag));
    link.heartbeatTimer.set(this.heartbeatTick);
  }

  private heard(link: Link): void {
    link.lastHeard = Date.now();
    if (link.state === 'restoring' && link.innerUp) {
      log('%s: connection to %s restored', this.eva, link.peer);
      link.state = 'open';
      link.restoreTimer.clear();
    }
  }

  private startRestoring(link: Link): void {
    if (link.state === 'restoring') return;
    link.state = 'restoring';
    link.restoreTimer.set(this.options.restoreTimeoutMs);
  }

  /** Re-opens the inner connection, with exponential backoff between attempts. */
  private reopen(link: Link): void {
    if (link.innerUp || link.reopening || this.links.get(link.peer) !== link) return;
    if (this.inner.destroyed) return;
    if (this.inner.isConnected(link.peer)) return this.innerRestored(link);
    link.reopening = true;
    void this.inner.openConnection(link.peer).then((event) => {
      link.reopening = false;
      if (this.links.get(link.peer) !== link || link.innerUp) return;
      if (event.status === ConnectionStatus.CONNECTED) return this.innerRestored(link);
      // NOT_FOUND too may be transient (the peer's own transport reconnecting): retry until the restore deadline.
      log('%s: re-opening the inner connection to %s: %s %s', this.eva, link.peer, event.status, event.reason ?? '');
      link.reconnectTimer.set(link.reconnectDelayMs);
      link.reconnectDelayMs = Math.min(this.options.reconnectMaxMs, link.reconnectDelayMs * 2);
    });
  }

  private innerRestored(link: Link): void {
    link.innerUp = true;
    link.reconnectTimer.clear();
    link.reconnectDelayMs = this.options.reconnectBaseMs;
    // Frames in flight on the old inner connection may be gone (and the new one may be another path).
    link.send.resendAll();
    // The peer answers with an ACK (the connection is then restored) or a RESET (it does not know it).
    this.sendControl(link.peer, encodeSignal('probe', link.tag));
    this.service(link);
  }

  private innerOnline(): void {
    for (const link of this.links.values()) {
      if (link.innerUp || link.reopening) continue;
      link.reconnectTimer.clear();
      link.reconnectDelayMs = this.options.reconnectBaseMs;
      this.reopen(link);
    }
  }

  private lose(link: Link, reason: LossReason, error?: VnfError): void {
    if (this.links.get(link.peer) !== link) return;
    log('%s: connection to %s lost (%s)', this.eva, link.peer, reason);
    this.links.delete(link.peer);
    link.close(
      error ?? new VnfError('NOT_CONNECTED', `The connection to ${link.peer} ended (${reason}) before the peer acknowledged the message.`),
    );
    // A connection we give up on must not leave its inner connection behind. When the peer ended it,
    // the peer closes the inner connection itself (closing it here could hit one the peer just re-opened).
    if ((reason === 'timeout' || reason === 'failed') && !this.inner.destroyed && this.inner.isConnected(link.peer)) {
      this.inner.closeConnection(link.peer);
    }
    if (error) this.reportError(error);
    this.connectionLost(link.peer);
  }
}
