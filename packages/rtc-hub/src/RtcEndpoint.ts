import { AbstractEndpoint, ConnectionStatus, VnfError, callUserListener, createLogger, isBinary } from '@vnf/core';
import type { ConnectionEvent, Endpoint, EndpointEvents, EndpointOptions, MessageEvent } from '@vnf/core';
import { dataChannel } from '@vnf/protocol';
import type { LingeringLinks } from './lingeringLinks';
import type { Path } from './PathSwitch';
import { PeerSession, type SessionHost } from './PeerSession';
import { decodeControl, encodeControl, type ControlFrame } from './signalingFrames';
import type { ResolvedRtcHubOptions } from './options';
import type { WebRtcImplementation } from './webRtcImplementation';

const { encodeFrame, toRecord } = dataChannel;

const log = createLogger('rtc-hub');

/** The events of an RtcEndpoint: every endpoint's (`EndpointEvents`), and `path`. */
export interface RtcEndpointEvents extends EndpointEvents {
  /**
   * Messages toward `peerEva` travel over `path` now: `'direct'` (a data channel) or `'relay'` (the signaling
   * connection). Fires once when a connection opens (right after `connection`) and once at each switch; never for a
   * lost or closed connection, and not for a channel replaced by a new one (the path stays `'direct'`).
   */
  path: (peerEva: string, path: Path) => void;
}

type PathListener = RtcEndpointEvents['path'];

// The emitter methods of an RtcEndpoint know its `path` event too: an overload beside each inherited signature
// (types only; at run time the class is the eventemitter3 emitter of AbstractEndpoint).
export interface RtcEndpoint {
  on(event: 'path', fn: PathListener, context?: unknown): this;
  on<T extends keyof EndpointEvents>(event: T, fn: EndpointEvents[T], context?: unknown): this;
  addListener(event: 'path', fn: PathListener, context?: unknown): this;
  addListener<T extends keyof EndpointEvents>(event: T, fn: EndpointEvents[T], context?: unknown): this;
  once(event: 'path', fn: PathListener, context?: unknown): this;
  once<T extends keyof EndpointEvents>(event: T, fn: EndpointEvents[T], context?: unknown): this;
  off(event: 'path', fn?: PathListener, context?: unknown, once?: boolean): this;
  off<T extends keyof EndpointEvents>(event: T, fn?: EndpointEvents[T], context?: unknown, once?: boolean): this;
  removeListener(event: 'path', fn?: PathListener, context?: unknown, once?: boolean): this;
  removeListener<T extends keyof EndpointEvents>(event: T, fn?: EndpointEvents[T], context?: unknown, once?: boolean): this;
  removeAllListeners(event?: keyof RtcEndpointEvents): this;
  listenerCount(event: keyof RtcEndpointEvents): number;
}

/**
 * An endpoint of an RtcHub: messages travel over one WebRTC data channel per connection, set up through the
 * signaling endpoint of the same eva (with relay 'fallback', over that signaling connection when no channel is up).
 */
export class RtcEndpoint extends AbstractEndpoint {
  /** The signaling hub's endpoint of this eva; destroyed with this endpoint. */
  readonly signaling: Endpoint;
  private readonly sessions = new Map<string, PeerSession>();
  private readonly waiters = new Map<string, Set<(event: ConnectionEvent) => void>>();
  private readonly host: SessionHost;
  private readonly highWaterMark: number;

  constructor(signaling: Endpoint, options: ResolvedRtcHubOptions, wrtc: WebRtcImplementation, endpointOptions: EndpointOptions, lingering: LingeringLinks) {
    super(signaling.eva, { ...endpointOptions, connectTimeoutMs: options.connectTimeoutMs, maxPayloadSize: options.maxPayloadSize });
    this.signaling = signaling;
    this.highWaterMark = options.highWaterMark;
    this.path = this.path.bind(this);
    this.host = this.createHost(options, wrtc, lingering);
    signaling.on('message', this.onSignalingMessage, this);
    signaling.on('connection', this.onSignalingConnection, this);
    signaling.on('connectionLost', this.onSignalingLost, this);
    signaling.on('drain', this.onSignalingDrain, this);
    signaling.on('error', this.reportError, this);
    // The server connection beneath: direct channels may survive its drop, but the app must know it is offline.
    signaling.on('online', this.onSignalingOnline, this);
    signaling.on('offline', this.onSignalingOffline, this);
  }

  /** Where messages toward `peerEva` travel now: `'direct'` (data channel), `'relay'` (signaling hub), or null when not connected. */
  path(peerEva: string): Path | null {
    return this.isConnected(peerEva) ? (this.sessions.get(peerEva)?.currentPath ?? null) : null;
  }

  /**
   * A multicast: a target on a data channel gets the message in its queue, in order with `send`; the targets on the
   * relay whose queue is empty get it in one multicast of the signaling endpoint (the broker fans it out), framed as
   * a relayed send, so their side handles it as one. A relay target with messages still queued (sent in this tick,
   * or waiting for the signaling endpoint's drain) gets it queued behind them instead, so nothing overtakes. Best
   * effort: a target whose buffer is past highWaterMark misses it.
   */
  protected override transmitToMany(targets: readonly string[], message: unknown): void {
    const record = toRecord(message as string | Uint8Array | ArrayBuffer);
    let relayed: string[] | null = null;
    for (const target of targets) {
      const session = this.sessions.get(target);
      if (!session) continue;
      if (session.bufferedAmount() > this.highWaterMark) {
        log('%s multicast skipped %s: its buffer is past highWaterMark', this.eva, target);
        continue;
      }
      if (session.relaysNow && this.signaling.isConnected(target)) (relayed ??= []).push(target);
      else session.sendRecord(record);
    }
    if (relayed === null) return;
    try {
      this.signaling.multicast(relayed, encodeFrame([record]));
    } catch (err) {
      log('%s: relayed multicast to %d peers failed: %s', this.eva, relayed.length, String(err));
    }
  }

  protected override queuedBytes(targetEva: string): number {
    return this.sessions.get(targetEva)?.bufferedAmount() ?? 0;
  }

  protected async connect(targetEva: string, signal: AbortSignal): Promise<ConnectionEvent> {
    const viaSignaling = await this.signaling.openConnection(targetEva);
    if (viaSignaling.status !== ConnectionStatus.CONNECTED) {
      return { status: viaSignaling.status, targetEva, reason: viaSignaling.reason ?? viaSignaling.status };
    }
    if (signal.aborted) return { status: ConnectionStatus.FAILED, targetEva, reason: 'ABORTED' };
    return new Promise((resolve) => {
      const waiter = (event: ConnectionEvent): void => resolve(event);
      this.addWaiter(targetEva, waiter);
      signal.addEventListener('abort', () => {
        this.waiters.get(targetEva)?.delete(waiter);
        const session = this.sessions.get(targetEva);
        // Gave up (timeout, destroy): leave nothing half-open behind.
        if (session && !session.established) {
          this.sessions.delete(targetEva);
          session.close();
        }
      });
      const session = this.sessions.get(targetEva) ?? this.createSession(targetEva);
      if (session.confirmedByPeer) this.resolveWaiters(targetEva, { status: ConnectionStatus.CONNECTED, targetEva });
      else session.open();
    });
  }

  protected disconnect(targetEva: string): void {
    const session = this.sessions.get(targetEva);
    this.sessions.delete(targetEva);
    session?.close();
    if (!this.signaling.destroyed) this.signaling.closeConnection(targetEva);
  }

  protected transmit(targetEva: string, message: unknown): void {
    this.sessions.get(targetEva)?.send(message as string | Uint8Array | ArrayBuffer);
  }

  protected teardown(): void {
    for (const [peer, waiters] of this.waiters) {
      for (const waiter of waiters) waiter({ status: ConnectionStatus.FAILED, targetEva: peer, reason: 'DESTROYED' });
    }
    this.waiters.clear();
    for (const session of this.sessions.values()) session.close();
    this.sessions.clear();
    this.signaling.off('message', this.onSignalingMessage, this);
    this.signaling.off('connection', this.onSignalingConnection, this);
    this.signaling.off('connectionLost', this.onSignalingLost, this);
    this.signaling.off('drain', this.onSignalingDrain, this);
    this.signaling.off('error', this.reportError, this);
    this.signaling.off('online', this.onSignalingOnline, this);
    this.signaling.off('offline', this.onSignalingOffline, this);
    this.signaling.destroy();
  }

  // ---- signaling ------------------------------------------------------------------------------

  private onSignalingMessage({ sourceEva, message }: MessageEvent): void {
    if (this.destroyed) return;
    if (isBinary(message)) {
      const session = this.sessions.get(sourceEva);
      if (session) session.onRelayedFrame(message instanceof ArrayBuffer ? new Uint8Array(message) : message);
      // Relayed data for a connection we closed: tell the peer, so it does not keep a half-open one.
      else this.host.sendControl(sourceEva, { t: 'bye' });
      return;
    }
    let frame: ControlFrame;
    try {
      frame = decodeControl(String(message));
    } catch (err) {
      this.reportError(err as VnfError);
      return;
    }
    let session = this.sessions.get(sourceEva);
    if (!session) {
      if (!startsConnection(frame)) return;
      session = this.createSession(sourceEva);
    }
    if (!session.onControl(frame)) this.createSession(sourceEva).onControl(frame);
  }

  private onSignalingConnection(peer: string): void {
    this.sessions.get(peer)?.onSignalingUp();
  }

  private onSignalingLost(peer: string): void {
    this.sessions.get(peer)?.onSignalingLost();
  }

  private onSignalingDrain(peer: string): void {
    this.sessions.get(peer)?.onSignalingDrain();
  }

  private onSignalingOnline(): void {
    if (!this.destroyed) this.emitSafely('online');
  }

  private onSignalingOffline(): void {
    if (!this.destroyed) this.emitSafely('offline');
  }

  /** Emits `path` through the listener guard, as `emitSafely` does the contract's events. */
  private emitPath(peer: string, path: Path): void {
    if (this.listenerCount('path') === 0) return;
    const emit = this.emit as (event: keyof RtcEndpointEvents, ...args: unknown[]) => boolean;
    callUserListener(this, () => emit.call(this, 'path', peer, path), () => `endpoint ${this.eva}`);
  }

  // ---- sessions -------------------------------------------------------------------------------

  private createSession(peer: string): PeerSession {
    const session = new PeerSession(peer, this.host);
    this.sessions.set(peer, session);
    return session;
  }

  private addWaiter(peer: string, waiter: (event: ConnectionEvent) => void): void {
    let set = this.waiters.get(peer);
    if (!set) this.waiters.set(peer, (set = new Set()));
    set.add(waiter);
  }

  private resolveWaiters(peer: string, event: ConnectionEvent): void {
    const set = this.waiters.get(peer);
    this.waiters.delete(peer);
    for (const waiter of set ?? []) waiter(event);
  }

  private createHost(options: ResolvedRtcHubOptions, wrtc: WebRtcImplementation, lingering: LingeringLinks): SessionHost {
    const current = (session: PeerSession): boolean => this.sessions.get(session.peer) === session;
    const signaling = this.signaling;
    const trySend = (peer: string, payload: string | Uint8Array): boolean => {
      if (signaling.destroyed || !signaling.isConnected(peer)) return false;
      try {
        signaling.send(peer, payload);
        return true;
      } catch (err) {
        log('%s: signaling send to %s failed: %s', this.eva, peer, String(err));
        return false;
      }
    };
    // A session that was closed or replaced has no say any more.
    return {
      eva: this.eva,
      options,
      wrtc,
      sendControl: (peer, frame) => trySend(peer, encodeControl(frame)),
      sendRelay: (peer, frame) => trySend(peer, frame),
      signalingBuffered: (peer) => (signaling.destroyed ? 0 : signaling.bufferedAmount(peer)),
      reopenSignaling: async (peer) => {
        if (signaling.destroyed) return false;
        const event = await signaling.openConnection(peer);
        return event.status === ConnectionStatus.CONNECTED;
      },
      established: (session) => {
        if (current(session)) this.acceptConnection(session.peer);
      },
      confirmed: (session) => {
        if (current(session)) this.resolveWaiters(session.peer, { status: ConnectionStatus.CONNECTED, targetEva: session.peer });
      },
      failed: (session, reason) => {
        if (!current(session)) return;
        this.sessions.delete(session.peer);
        this.resolveWaiters(session.peer, { status: ConnectionStatus.FAILED, targetEva: session.peer, reason });
      },
      lost: (session) => {
        if (!current(session)) return;
        this.sessions.delete(session.peer);
        this.connectionLost(session.peer);
      },
      pathChanged: (session, path) => {
        if (current(session) && this.hasConnection(session.peer)) this.emitPath(session.peer, path);
      },
      linger: (link, released) => lingering.add(link, released),
      deliver: (peer, message) => this.deliver(peer, message),
      drain: (peer) => this.checkDrain(peer),
      error: (error) => this.reportError(error),
    };
  }
}

/** Frames that may start a connection from the peer's side (anything else for an unknown peer is stale). */
function startsConnection(frame: ControlFrame): boolean {
  return frame.t === 'ring' || frame.t === 'relay' || (frame.t === 'signal' && frame.data.type === 'offer');
}
