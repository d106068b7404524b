import type { VnfError } from '@vnf/core';
import { dataChannel } from '@vnf/protocol';
import { Negotiation } from './Negotiation';
import { PathSwitch, type Path } from './PathSwitch';
import type { PeerLink } from './PeerLink';
import { SendFlow } from './SendFlow';
import { protocolError, type ControlFrame } from './signalingFrames';
import type { ResolvedRtcHubOptions } from './options';
import type { WebRtcImplementation } from './webRtcImplementation';

const { ChannelControl, controlRecord, decodeFrame, encodeFrame } = dataChannel;
type Decoded = dataChannel.Decoded;
type FrameRecord = dataChannel.FrameRecord;

/** What a session needs from its endpoint. */
export interface SessionHost {
  readonly eva: string;
  readonly options: ResolvedRtcHubOptions;
  readonly wrtc: WebRtcImplementation;
  /** Sends a control frame over the signaling connection; false when that connection is down. */
  sendControl(peer: string, frame: ControlFrame): boolean;
  /** Sends a relayed data frame over the signaling connection; false when that connection is down. */
  sendRelay(peer: string, frame: Uint8Array): boolean;
  /** Bytes the signaling endpoint holds toward the peer. */
  signalingBuffered(peer: string): number;
  /** Re-opens the signaling connection (relay fallback after it dropped); resolves whether it is up. */
  reopenSignaling(peer: string): Promise<boolean>;
  /** The connection is up on this side: it may send and receive. */
  established(session: PeerSession): void;
  /** The peer is connected too: `openConnection` may report CONNECTED. */
  confirmed(session: PeerSession): void;
  /** The attempt failed before the connection was up. */
  failed(session: PeerSession, reason: string): void;
  lost(session: PeerSession): void;
  /** Messages toward the peer travel over `path` now: the connection opened on it, or switched to it. */
  pathChanged(session: PeerSession, path: Path): void;
  /** A channel closed on purpose waits for the peer to read what was sent; `released` settles when it is gone. */
  linger(link: PeerLink, released: Promise<void>): void;
  deliver(peer: string, message: string | Uint8Array): void;
  /** The buffer toward the peer may have shrunk: emits the `drain` owed, if it is due. */
  drain(peer: string): void;
  error(error: VnfError): void;
}

/**
 * The connection to one peer: its lifetime (up, confirmed, lost or failed, closed) and where what arrives goes.
 * `Negotiation` makes the data channels, `PathSwitch` chooses between channel and relay and keeps the order
 * across a switch, `SendFlow` queues and paces what is sent.
 */
export class PeerSession {
  readonly peer: string;
  private readonly host: SessionHost;
  private readonly fallback: boolean;
  /** forceRelay: this side never makes or accepts a data channel. */
  private readonly forced: boolean;
  /** The peer said it has forceRelay: no data channel is attempted with it either. */
  private peerForced = false;
  /** The path last reported to the host: each change is reported once, and a channel replaced by a new one is none. */
  private reported: Path | null = null;
  private readonly negotiation: Negotiation;
  private readonly paths: PathSwitch;
  private readonly flow: SendFlow;
  private isEstablished = false;
  private isConfirmed = false;
  private finished = false;

  constructor(peer: string, host: SessionHost) {
    this.peer = peer;
    this.host = host;
    this.fallback = host.options.relay === 'fallback';
    this.forced = host.options.forceRelay;
    this.negotiation = this.createNegotiation();
    this.paths = this.createPaths();
    this.flow = this.createFlow();
  }

  get established(): boolean {
    return this.isEstablished;
  }

  /** Both sides are connected. */
  get confirmedByPeer(): boolean {
    return this.isConfirmed;
  }

  get currentPath(): Path | null {
    return this.isEstablished ? this.paths.path : null;
  }

  bufferedAmount(): number {
    return this.flow.bufferedAmount();
  }

  /** Starts an attempt unless one is running or the connection is up (both sides may call it: glare). */
  open(): void {
    if (!this.finished && !this.isEstablished) this.negotiation.open();
  }

  send(message: string | Uint8Array | ArrayBuffer): void {
    this.flow.send(message);
  }

  /** Queues a multicast's record (made once for every target), in order with `send`. */
  sendRecord(record: FrameRecord): void {
    this.flow.sendRecord(record);
  }

  /**
   * Whether a multicast may reach the peer in the relayed fan-out now, outside the queue, and keep its place: the
   * path is the relay and nothing sent before it still waits here.
   */
  get relaysNow(): boolean {
    return this.paths.path === 'relay' && this.flow.idle;
  }

  /**
   * Closes on purpose: sends what is queued, tells the peer on the path the messages took (so it reads them
   * all first), releases everything and reports nothing.
   */
  close(): void {
    if (this.finished) return;
    const link = this.negotiation.link;
    if (this.paths.path === 'direct' && link?.isOpen) {
      this.flow.sendAll(link);
      link.send(encodeFrame([controlRecord(ChannelControl.BYE)]));
      this.negotiation.detach();
      this.host.linger(link, link.closeGracefully(this.host.options.iceTimeoutMs, isBye));
    } else {
      if (this.paths.path === 'relay') this.flow.sendAll('relay');
      this.host.sendControl(this.peer, { t: 'bye' });
    }
    this.dispose();
  }

  /** Releases everything without telling anyone. */
  dispose(): void {
    if (this.finished) return;
    this.finished = true;
    this.negotiation.dispose();
    this.flow.dispose();
    this.paths.dispose();
  }

  // ---- from the signaling connection ----------------------------------------------------------

  /**
   * Handles a control frame. Returns false when the frame shows the peer started a new connection after
   * losing this one: the session reported the loss and ended, and a new session must take the frame.
   */
  onControl(frame: ControlFrame): boolean {
    if (this.finished) return true;
    switch (frame.t) {
      case 'ring':
        return this.negotiation.onRing();
      case 'signal':
        return this.negotiation.onSignal(frame.id, frame.data);
      case 'fail':
        this.negotiation.onFail(frame.id, frame.reason);
        return true;
      case 'bye':
        this.end('CLOSED');
        return true;
      case 'relay':
        this.paths.onRelay(frame.forced === true);
        return true;
      case 'direct':
        this.paths.onDirect(frame.id);
        return true;
    }
  }

  onRelayedFrame(frame: Uint8Array): void {
    if (this.finished || !this.paths.acceptsRelayed()) return;
    for (const record of this.decode(frame)) {
      if (this.finished) return;
      if (isControl(record)) this.host.error(protocolError(`${this.peer} relayed a channel control`));
      else this.host.deliver(this.peer, record);
    }
  }

  /** The signaling connection to the peer dropped. An open data channel carries on without it. */
  onSignalingLost(): void {
    if (this.finished) return;
    this.flow.signalingLost();
    this.paths.onSignalingLost();
  }

  onSignalingUp(): void {
    this.paths.onSignalingUp();
  }

  /** The signaling endpoint emitted `drain` toward the peer: the relay may go on. */
  onSignalingDrain(): void {
    this.flow.signalingDrained();
  }

  // ---- lifetime -------------------------------------------------------------------------------

  private establish(): void {
    if (this.isEstablished) return;
    this.isEstablished = true;
    this.host.established(this);
    this.reportPath();
  }

  /** Tells the host where messages go now, once the connection is up and whenever that changed since last told. */
  private reportPath(): void {
    const path = this.paths.path;
    if (this.finished || !this.isEstablished || path === null || path === this.reported) return;
    this.reported = path;
    this.host.pathChanged(this, path);
  }

  private confirm(): void {
    if (!this.isEstablished || this.isConfirmed) return;
    this.isConfirmed = true;
    this.host.confirmed(this);
  }

  /** Ends the session: reported lost if the connection was up, else FAILED with `reason`. */
  private end(reason: string): void {
    const wasEstablished = this.isEstablished;
    this.dispose();
    if (wasEstablished) this.host.lost(this);
    else this.host.failed(this, reason);
  }

  private attemptFailed(reason: string): void {
    if (this.finished) return;
    if (this.fallback) return this.paths.useRelay();
    this.dispose();
    this.host.failed(this, reason);
  }

  // ---- from the data channel ------------------------------------------------------------------

  private channelFrame(link: PeerLink, frame: Uint8Array): void {
    const records = this.decode(frame);
    const hold = this.paths.holds(link);
    for (const record of records) {
      if (this.finished || this.negotiation.link !== link) return;
      if (isControl(record)) this.channelControl(link, record.control);
      else if (hold) this.paths.hold(record);
      else this.host.deliver(this.peer, record);
    }
  }

  private channelControl(link: PeerLink, code: number): void {
    if (this.negotiation.onHandshake(link, code)) return;
    if (code !== ChannelControl.BYE) return this.host.error(protocolError(`unexpected channel control ${code} from ${this.peer}`));
    this.paths.releaseHeld();
    if (!this.finished) this.end('CLOSED');
  }

  private decode(frame: Uint8Array): Decoded[] {
    try {
      return decodeFrame(frame);
    } catch (err) {
      this.host.error(err as VnfError);
      return [];
    }
  }

  // ---- collaborators --------------------------------------------------------------------------

  private createNegotiation(): Negotiation {
    const { host, peer } = this;
    return new Negotiation({
      eva: host.eva,
      peer,
      options: host.options,
      wrtc: host.wrtc,
      relaying: () => this.paths.path === 'relay',
      directAllowed: () => !this.forced && !this.peerForced,
      sendControl: (frame) => host.sendControl(peer, frame),
      peerStartsOver: () => {
        // The peer lost the direct channel we still consider open.
        if (!this.isEstablished || this.paths.path !== 'direct') return true;
        if (!this.fallback) {
          this.end('SIGNALING_LOST');
          return false;
        }
        this.negotiation.drop();
        return true;
      },
      channelUsable: (link) => {
        this.negotiation.cancelRetry();
        this.paths.useDirect(link);
      },
      channelConfirmed: () => this.confirm(),
      channelFrame: (link, frame) => this.channelFrame(link, frame),
      channelWritable: () => this.flow.flush(),
      channelClosed: (link, reason) => this.paths.channelClosed(link, reason),
      channelDropped: () => {
        // Without the channel's bytes the buffer may be back at the low mark.
        if (this.paths.channelGone()) this.flow.schedule();
      },
      attemptFailed: (reason) => this.attemptFailed(reason),
      error: (error) => host.error(error),
    });
  }

  private createPaths(): PathSwitch {
    const { host, peer } = this;
    return new PathSwitch({
      eva: host.eva,
      peer,
      fallback: this.fallback,
      forced: this.forced,
      isEstablished: () => this.isEstablished,
      isFinished: () => this.finished,
      currentLink: () => this.negotiation.link,
      sendControl: (frame) => host.sendControl(peer, frame),
      reopenSignaling: () => host.reopenSignaling(peer),
      closeLink: (link, reason) => this.negotiation.closeLink(link, reason),
      connected: (confirmed) => {
        this.establish();
        if (confirmed) this.confirm();
      },
      flush: () => this.flow.flush(),
      pathChanged: () => this.reportPath(),
      peerForcesRelay: () => {
        this.peerForced = true;
        this.negotiation.giveUp();
      },
      retryLater: () => this.negotiation.retryLater(),
      deliver: (message) => host.deliver(peer, message),
      end: (reason) => this.end(reason),
      error: (error) => host.error(error),
    });
  }

  private createFlow(): SendFlow {
    const { host, peer } = this;
    return new SendFlow({
      highWaterMark: host.options.highWaterMark,
      lowWaterMark: host.options.lowWaterMark,
      signalingHighWaterMark: host.options.signalingHighWaterMark,
      signalingMaxPayloadSize: host.options.signalingMaxPayloadSize,
      route: () => (this.paths.path === 'relay' ? 'relay' : this.paths.path === 'direct' ? this.negotiation.link : null),
      sendRelay: (frame) => host.sendRelay(peer, frame),
      signalingBuffered: () => host.signalingBuffered(peer),
      relayFailed: () => this.onSignalingLost(),
      drain: () => host.drain(peer),
    });
  }
}

function isControl(record: Decoded): record is { control: number } {
  return typeof record === 'object' && 'control' in record;
}

function isBye(frame: Uint8Array): boolean {
  try {
    return decodeFrame(frame).some((record) => isControl(record) && record.control === ChannelControl.BYE);
  } catch {
    return false;
  }
}
