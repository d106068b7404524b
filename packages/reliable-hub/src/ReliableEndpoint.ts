import {
  ConnectionStatus,
  DecoratorEndpoint,
  VnfError,
  createLogger,
  deferred,
  type ConnectionEvent,
  type Endpoint,
  type EndpointOptions,
  type Payload,
} from '@vnf/core';
import { DataPath } from './DataPath';
import { Datagrams } from './Datagrams';
import { decodeFrame, encodeSignal, randomSession } from './frameCodec';
import { Handshake } from './Handshake';
import { Link, type LinkHandlers, type LossReason } from './Link';
import { Liveness } from './Liveness';
import { measurePayload } from './payloadSize';
import { Timer } from './Timer';
import type { ResolvedOptions } from './options';

const log = createLogger('reliable-hub');

/** Copies of a CLOSE frame: it is sent once and never retransmitted, so it must survive a lossy inner hub. */
const CLOSE_COPIES = 3;
/** Longest destroy() keeps the inner endpoint alive so its CLOSE frames can leave (see teardown). */
const LINGER_MAX_MS = 1000;
const LINGER_POLL_MS = 10;

/**
 * An endpoint of a ReliableHub: exactly-once, in-order delivery over an inner endpoint that may lose,
 * duplicate or reorder frames and drop its connections. See the package README for the protocol.
 *
 * It keeps the links (one a connected peer) and ends them; the handshake (`Handshake`), the data path (`DataPath`)
 * and liveness and restore (`Liveness`) work on them through small host interfaces.
 */
export class ReliableEndpoint<Inner extends Endpoint = Endpoint> extends DecoratorEndpoint<Inner> {
  /** This endpoint instance's session id: a peer that sees it change knows this endpoint restarted. */
  readonly session = randomSession();
  private readonly options: ResolvedOptions;
  private readonly links = new Map<string, Link>();
  private readonly handlers: LinkHandlers;
  private readonly handshake: Handshake;
  private readonly dataPath: DataPath;
  private readonly datagrams: Datagrams;
  private readonly liveness: Liveness;
  private readonly lingerTimer = new Timer(() => this.lingerCheck());
  private lingerDeadline = 0;
  private lingerPeers: string[] = [];
  private readonly released = deferred<void>();
  /** Bytes of the payload `validatePayload` just accepted, for `transmit` (`send` calls one, then the other). */
  private acceptedSize = 0;

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
    inner.on('online', () => this.liveness.innerOnline());
    const { eva, session } = this;
    const isCurrent = (link: Link): boolean => this.links.get(link.peer) === link;
    const sendControl = (peer: string, frame: string): void => this.sendControl(peer, frame);
    const lose = (link: Link, reason: LossReason, error?: VnfError): void => this.lose(link, reason, error);
    this.handshake = new Handshake({
      eva,
      session,
      options,
      inner,
      isDestroyed: () => this.destroyed,
      link: (peer) => this.links.get(peer),
      createLink: (peer, tag, peerSession, peerWindow) => this.createLink(peer, tag, peerSession, peerWindow),
      accept: (peer) => this.acceptConnection(peer),
      lose,
      sendControl,
    });
    this.dataPath = new DataPath({
      eva,
      options,
      inner,
      isCurrent,
      deliver: (peer, payload) => this.deliver(peer, payload),
      sendControl,
      innerLost: (peer) => this.innerConnectionLost(peer),
      lose,
      oweDrain: (peer) => this.oweDrain(peer),
      checkDrain: (peer) => this.checkDrain(peer),
    });
    this.datagrams = new Datagrams({
      eva,
      session,
      inner,
      link: (peer) => this.links.get(peer),
      flush: (link) => this.dataPath.flush(link),
      deliver: (peer, payload) => this.deliver(peer, payload),
    });
    this.liveness = new Liveness({
      eva,
      options,
      inner,
      isCurrent,
      links: () => this.links.values(),
      sendControl,
      service: (link) => this.dataPath.service(link),
      lose,
    });
    this.handlers = {
      retransmit: (link) => this.dataPath.service(link),
      ack: (link) => this.dataPath.sendAck(link),
      repeatAck: (link) => this.dataPath.repeatAck(link),
      heartbeat: (link) => this.liveness.heartbeat(link),
      restoreExpired: (link) => this.liveness.restoreExpired(link),
      reopen: (link) => this.liveness.reopen(link),
    };
    this.sendAcknowledged = this.sendAcknowledged.bind(this);
  }

  /**
   * Sends like `send` and resolves once the peer's application has been handed the message.
   * Throws at the call what `send` throws; rejects when the connection ends first (with the reason's code,
   * NOT_CONNECTED when it was closed, DESTROYED when this endpoint was destroyed).
   */
  sendAcknowledged(targetEva: string, message: Payload): Promise<void> {
    const link = this.links.get(targetEva);
    this.send(targetEva, message);
    // `send` is synchronous and throws without a link: the message it just accepted is the link's last. When handing
    // it to the inner endpoint fails (at the end of the turn), the link ends and the promise rejects.
    return link!.waitFor(link!.send.nextSeq - 1);
  }

  /** Payload bytes accepted by `send` toward `targetEva` and not yet acknowledged by the peer. */
  protected override queuedBytes(targetEva: string): number {
    return this.links.get(targetEva)?.send.bytes ?? 0;
  }

  protected override drained(peerEva: string, lowWaterMark: number): boolean {
    return this.dataPath.drained(this.links.get(peerEva)?.send, lowWaterMark);
  }

  // ---- DecoratorEndpoint hooks ----------------------------------------------------------------

  /** Our `drain` is about our own buffer; the inner one only tells us to resume sending. */
  protected override innerDrain(peerEva: string): void {
    const link = this.links.get(peerEva);
    if (link) this.dataPath.service(link);
  }

  protected override async connect(targetEva: string, signal: AbortSignal): Promise<ConnectionEvent> {
    const innerEvent = await this.inner.openConnection(targetEva);
    if (signal.aborted) return { status: ConnectionStatus.FAILED, targetEva, reason: 'ABORTED' };
    if (innerEvent.status !== ConnectionStatus.CONNECTED) return { ...innerEvent, targetEva };
    // The peer's handshake may have arrived (and won) while the inner connection opened.
    if (this.links.has(targetEva)) return { status: ConnectionStatus.CONNECTED, targetEva };
    return this.handshake.open(targetEva, signal);
  }

  /** The wire hubs' rule, measuring the payload once for the check and for `transmit`. */
  protected override validatePayload(message: unknown): void {
    this.acceptedSize = measurePayload(message, this.maxPayloadSize);
  }

  protected override transmit(targetEva: string, message: unknown): void {
    const link = this.links.get(targetEva);
    if (!link) {
      throw new VnfError('NOT_CONNECTED', `${this.eva} has no open connection to ${targetEva}. Call openConnection first.`);
    }
    this.dataPath.send(link, message as Payload, this.acceptedSize);
  }

  /**
   * A multicast is one datagram frame in one inner multicast, outside every connection's sequence: at most once
   * (never acknowledged nor repeated; copies are dropped by the receiver). Once this session's datagram counter is
   * used up, each target gets it on its connection instead (`transmit`, exactly once).
   */
  protected override transmitToMany(targets: readonly string[], message: unknown): void {
    if (!this.datagrams.multicast(targets, message as Payload)) super.transmitToMany(targets, message);
  }

  protected override disconnect(targetEva: string): void {
    const link = this.links.get(targetEva);
    if (link) {
      // Messages sent earlier in this turn still wait for the end-of-turn pump: they go out ahead of the CLOSE frames.
      this.dataPath.flush(link);
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
      this.dataPath.flush(link);
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
    if (frame.type === 'datagram') return this.datagrams.receive(sourceEva, frame.session, frame.counter, frame.payload);
    if (frame.type === 'hello') return this.handshake.onHello(sourceEva, frame);
    if (frame.type === 'helloAck') return this.handshake.onHelloAck(sourceEva, frame);
    const link = this.links.get(sourceEva);
    if (!link || link.tag !== frame.tag) return this.handshake.onStray(sourceEva, frame);
    if (frame.type === 'close') return this.lose(link, 'closed');
    if (frame.type === 'reset') return this.handshake.onReset(link, frame.session);
    this.liveness.heard(link);
    if (frame.type === 'data') this.dataPath.onData(link, frame.seq, frame.payload);
    else if (frame.type === 'ack') this.dataPath.onAck(link, frame.cum, frame.ranges);
    else this.dataPath.sendAck(link);
  }

  protected override innerConnected(peerEva: string): void {
    // A peer's inner connection alone is not a reliable connection: that starts with the handshake.
    const link = this.links.get(peerEva);
    if (link) this.liveness.innerConnected(link);
  }

  protected override innerConnectionLost(peerEva: string): void {
    const link = this.links.get(peerEva);
    if (link) this.liveness.innerLost(link);
  }

  // ---- links ----------------------------------------------------------------------------------

  private createLink(peer: string, tag: number, peerSession: string, peerWindow: number): void {
    const link = new Link(peer, tag, peerSession, peerWindow, this.options, this.handlers, this.datagrams.windowFor(peer, peerSession));
    this.links.set(peer, link);
    this.liveness.start(link);
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
