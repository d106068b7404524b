import { VnfError, createLogger } from '@vnf/core';
import { dataChannel } from '@vnf/protocol';
import { PeerLink } from './PeerLink';
import { SendQueue } from './sendQueue';
import type { ControlFrame, SignalData } from './signalingFrames';
import type { ResolvedRtcHubOptions } from './options';
import type { WebRtcImplementation } from './webRtcImplementation';

const { ChannelControl, controlRecord, decodeFrame, encodeFrame, toRecord } = dataChannel;
type Decoded = dataChannel.Decoded;

const log = createLogger('rtc-hub:session');

/**
 * Largest coalesced frame (a single bigger message still goes alone). 16 KiB is the size every browser's SCTP
 * handles without fragmentation trouble; with 64 KiB frames @roamhq/wrtc now and then stalled for hundreds of ms.
 */
const FRAME_BUDGET = 16 * 1024;
/** How often a blocked send queue looks at the channel's bufferedAmount (@roamhq/wrtc has no `bufferedamountlow`). */
const POLL_MS = 5;

/** Where messages toward the peer travel now. */
export type Path = 'direct' | 'relay';

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
  /** A channel closed on purpose waits for the peer to read what was sent; `released` settles when it is gone. */
  linger(link: PeerLink, released: Promise<void>): void;
  deliver(peer: string, message: string | Uint8Array): void;
  drain(peer: string): void;
  error(error: VnfError): void;
}

function newLinkId(): string {
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

/**
 * Everything about the connection to one peer: the data channel attempts (who offers, glare), the switch
 * between data channel and relay, and the coalescing, backpressured send queue.
 */
export class PeerSession {
  readonly peer: string;
  private readonly host: SessionHost;
  private readonly initiator: boolean;
  private readonly fallback: boolean;
  private link: PeerLink | null = null;
  private path: Path | null = null;
  private isEstablished = false;
  private isConfirmed = false;
  private finished = false;
  private signalingUp = true;
  private answerTimer: ReturnType<typeof setTimeout> | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private pollTimer: ReturnType<typeof setTimeout> | undefined;
  private flushScheduled = false;
  private readonly queue = new SendQueue();
  private aboveHighWater = false;
  private transportBuffered = 0;
  /** The data channel the peer announced it sends on; frames from another channel wait until it does. */
  private peerDirectId: string | null = null;
  private held: Decoded[] = [];
  private relaySent = false;
  private relayReceived = false;

  constructor(peer: string, host: SessionHost) {
    this.peer = peer;
    this.host = host;
    // Glare: both sides may open at once; only the smaller eva ever makes an offer, so one channel results.
    this.initiator = host.eva < peer;
    this.fallback = host.options.relay === 'fallback';
  }

  get established(): boolean {
    return this.isEstablished;
  }

  /** Both sides are connected. */
  get confirmedByPeer(): boolean {
    return this.isConfirmed;
  }

  get currentPath(): Path | null {
    return this.isEstablished ? this.path : null;
  }

  bufferedAmount(): number {
    if (this.path === 'direct' && this.link) return this.queue.bytes + this.link.bufferedAmount;
    if (this.path === 'relay') return this.queue.bytes + this.host.signalingBuffered(this.peer);
    return this.queue.bytes;
  }

  /** Starts an attempt unless one is running or the connection is up (both sides may call it: glare). */
  open(): void {
    if (this.finished || this.isEstablished || this.link || this.answerTimer) return;
    this.attempt();
  }

  send(message: string | Uint8Array | ArrayBuffer): void {
    this.queue.push(toRecord(message));
    // The channel's own count as of the last flush: reading it is a native call, too slow for every message.
    if (this.queue.bytes + this.transportBuffered > this.host.options.highWaterMark) this.aboveHighWater = true;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // Everything sent in this tick goes out together, in frames of up to FRAME_BUDGET bytes.
      queueMicrotask(() => {
        this.flushScheduled = false;
        this.flush();
      });
    }
  }

  /**
   * Closes on purpose: sends what is queued, tells the peer on the path the messages took (so it reads them
   * all first), releases everything and reports nothing.
   */
  close(): void {
    if (this.finished) return;
    const link = this.link;
    if (this.path === 'direct' && link?.isOpen) {
      while (this.queue.length > 0) link.send(this.queue.takeFrame(FRAME_BUDGET));
      link.send(encodeFrame([controlRecord(ChannelControl.BYE)]));
      this.link = null;
      this.host.linger(link, link.closeGracefully(this.host.options.iceTimeoutMs, isBye));
    } else {
      if (this.path === 'relay') {
        while (this.queue.length > 0 && this.host.sendRelay(this.peer, this.queue.takeFrame(FRAME_BUDGET)));
      }
      this.host.sendControl(this.peer, { t: 'bye' });
    }
    this.dispose();
  }

  /** Releases everything without telling anyone. */
  dispose(): void {
    if (this.finished) return;
    this.finished = true;
    this.link?.destroy();
    this.link = null;
    clearTimeout(this.answerTimer);
    clearTimeout(this.retryTimer);
    clearTimeout(this.pollTimer);
    this.answerTimer = this.retryTimer = this.pollTimer = undefined;
    this.queue.clear();
    this.held = [];
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
        if (!this.initiator) {
          this.host.error(protocol(`${this.peer} asked ${this.host.eva} to offer, but the smaller eva offers`));
          return true;
        }
        if (this.isEstablished && this.path === 'direct') {
          // The peer starts over, so it lost what we still consider open.
          this.dropLink();
          if (!this.fallback) {
            this.reportLost();
            return false;
          }
        }
        if (!this.link) this.attempt();
        return true;
      case 'signal':
        return this.onSignal(frame.id, frame.data);
      case 'fail':
        if (this.link?.id === frame.id) this.linkClosed(this.link, frame.reason);
        return true;
      case 'bye':
        this.dispose();
        if (this.isEstablished) this.host.lost(this);
        else this.host.failed(this, 'CLOSED');
        return true;
      case 'relay':
        if (!this.fallback) {
          this.host.error(protocol(`${this.peer} relays, but this hub has relay: 'never'; use the same relay mode on both sides`));
          return true;
        }
        this.relayReceived = true;
        if (this.link && this.peerDirectId === this.link.id) this.linkClosed(this.link, 'CHANNEL_CLOSED');
        if (!this.isEstablished) this.useRelay();
        return true;
      case 'direct':
        this.peerDirectId = frame.id;
        if (this.link?.id === frame.id) this.releaseHeld();
        return true;
    }
  }

  onRelayedFrame(frame: Uint8Array): void {
    if (this.finished) return;
    if (!this.fallback || !this.isEstablished) {
      this.host.error(protocol(`${this.peer} relayed a message outside a relayed connection`));
      return;
    }
    // The peer gave up the channel it announced; anything it still carries would arrive out of order.
    if (this.link && this.peerDirectId === this.link.id) this.linkClosed(this.link, 'CHANNEL_CLOSED');
    this.deliverFrame(frame);
  }

  /** The signaling connection to the peer dropped. An open data channel carries on without it. */
  onSignalingLost(): void {
    if (this.finished) return;
    this.signalingUp = false;
    this.releaseHeld();
    if (!this.isEstablished) {
      this.dispose();
      this.host.failed(this, 'SIGNALING_LOST');
    } else if (this.path !== 'direct') {
      this.reportLost();
    }
  }

  onSignalingUp(): void {
    this.signalingUp = true;
  }

  // ---- data channel attempts ------------------------------------------------------------------

  private attempt(): void {
    if (this.initiator) {
      this.createLink(newLinkId());
      return;
    }
    if (!this.host.sendControl(this.peer, { t: 'ring' })) return this.attemptFailed('SIGNALING_LOST');
    this.answerTimer = setTimeout(() => {
      this.answerTimer = undefined;
      this.attemptFailed('NO_ANSWER');
    }, this.host.options.iceTimeoutMs);
  }

  private onSignal(id: string, data: SignalData): boolean {
    if (this.link?.id === id) {
      this.link.signal(data);
      return true;
    }
    if (data.type !== 'offer') return true; // a late candidate of an attempt that is gone
    if (this.initiator) {
      this.host.error(protocol(`${this.peer} made an offer, but the smaller eva (${this.host.eva}) offers`));
      return true;
    }
    if (this.isEstablished && this.path === 'direct' && !this.fallback) {
      this.reportLost();
      return false;
    }
    clearTimeout(this.answerTimer);
    this.answerTimer = undefined;
    if (this.link) this.dropLink();
    this.createLink(id).signal(data);
    return true;
  }

  private createLink(id: string): PeerLink {
    const { options } = this.host;
    const link: PeerLink = new PeerLink(
      {
        id,
        initiator: this.initiator,
        wrtc: this.host.wrtc,
        iceServers: options.iceServers,
        iceTransportPolicy: options.iceTransportPolicy,
        channelConfig: options.channelConfig,
        iceTimeoutMs: options.iceTimeoutMs,
      },
      {
        signal: (data) => {
          if (!this.host.sendControl(this.peer, { t: 'signal', id, data }) && !link.isOpen) this.linkClosed(link, 'SIGNALING_LOST');
        },
        open: () => this.linkOpened(link),
        data: (frame) => this.linkData(link, frame),
        closed: (reason) => {
          this.host.sendControl(this.peer, { t: 'fail', id, reason });
          this.linkClosed(link, reason);
        },
      },
    );
    this.link = link;
    return link;
  }

  private linkOpened(link: PeerLink): void {
    if (this.finished || this.link !== link) return;
    log('%s → %s: data channel %s open', this.host.eva, this.peer, link.id);
    // The initiator waits for READY, so that when it reports CONNECTED the peer is connected too.
    if (this.initiator) return;
    link.send(encodeFrame([controlRecord(ChannelControl.READY)]));
    this.useDirect(link);
  }

  private useDirect(link: PeerLink): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    // Every message relayed so far was sent before this marker; the peer holds direct frames until it arrives.
    if (this.fallback) this.host.sendControl(this.peer, { t: 'direct', id: link.id });
    this.path = 'direct';
    this.establish();
    this.flush();
  }

  private linkData(link: PeerLink, frame: Uint8Array): void {
    if (this.finished || this.link !== link) return;
    const records = this.decode(frame);
    const hold = this.fallback && this.peerDirectId !== link.id && this.signalingUp;
    for (const record of records) {
      if (this.finished || this.link !== link) return;
      if (typeof record === 'object' && 'control' in record) this.channelControl(link, record.control);
      else if (hold) this.held.push(record);
      else this.host.deliver(this.peer, record);
    }
  }

  private channelControl(link: PeerLink, code: number): void {
    if (code === ChannelControl.READY && this.initiator) {
      link.send(encodeFrame([controlRecord(ChannelControl.ACK)]));
      this.useDirect(link);
      this.confirm();
    } else if (code === ChannelControl.ACK && !this.initiator) {
      this.confirm();
    } else if (code === ChannelControl.BYE) {
      this.releaseHeld();
      if (this.finished) return;
      const wasEstablished = this.isEstablished;
      this.dispose();
      if (wasEstablished) this.host.lost(this);
      else this.host.failed(this, 'CLOSED');
    } else {
      this.host.error(protocol(`unexpected channel control ${code} from ${this.peer}`));
    }
  }

  private linkClosed(link: PeerLink, reason: string): void {
    if (this.finished || this.link !== link) return;
    link.destroy();
    this.link = null;
    this.held = [];
    const wasDirect = this.path === 'direct';
    if (wasDirect) this.path = null;
    if (!this.fallback) {
      this.dispose();
      if (this.isEstablished) this.host.lost(this);
      else this.host.failed(this, reason);
      return;
    }
    log('%s → %s: data channel %s closed (%s); relaying', this.host.eva, this.peer, link.id, reason);
    if (!this.isEstablished || wasDirect) this.useRelay();
    else this.scheduleRetry();
  }

  private attemptFailed(reason: string): void {
    if (this.finished) return;
    if (this.fallback) return this.useRelay();
    this.dispose();
    this.host.failed(this, reason);
  }

  private dropLink(): void {
    this.link?.destroy();
    this.link = null;
    this.held = [];
    if (this.path === 'direct') this.path = null;
  }

  // ---- relay fallback -------------------------------------------------------------------------

  private useRelay(): void {
    if (this.finished) return;
    if (!this.signalingUp) {
      void this.host.reopenSignaling(this.peer).then((up) => {
        if (this.finished) return;
        if (!up) return this.isEstablished ? this.reportLost() : this.attemptFailed('SIGNALING_LOST');
        this.signalingUp = true;
        this.useRelay();
      });
      return;
    }
    if (!this.relaySent || this.isEstablished) {
      if (!this.host.sendControl(this.peer, { t: 'relay' })) return this.reportLost();
      this.relaySent = true;
    }
    this.path = 'relay';
    this.scheduleRetry();
    // Connected once both sides said they relay, so neither reports CONNECTED before the other can send.
    if (this.relayReceived) {
      this.establish();
      this.confirm();
    }
    this.flush();
  }

  private scheduleRetry(): void {
    if (!this.initiator || this.retryTimer || this.finished) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.finished || this.link || this.path !== 'relay') return;
      this.createLink(newLinkId());
    }, this.host.options.directRetryMs);
  }

  // ---- delivery -------------------------------------------------------------------------------

  private establish(): void {
    if (this.isEstablished) return;
    this.isEstablished = true;
    this.host.established(this);
  }

  private confirm(): void {
    if (!this.isEstablished || this.isConfirmed) return;
    this.isConfirmed = true;
    this.host.confirmed(this);
  }

  private reportLost(): void {
    const wasEstablished = this.isEstablished;
    this.dispose();
    if (wasEstablished) this.host.lost(this);
    else this.host.failed(this, 'SIGNALING_LOST');
  }

  private releaseHeld(): void {
    const held = this.held;
    this.held = [];
    for (const message of held) {
      if (this.finished) return;
      this.host.deliver(this.peer, message as string | Uint8Array);
    }
  }

  private deliverFrame(frame: Uint8Array): void {
    for (const record of this.decode(frame)) {
      if (this.finished) return;
      if (typeof record === 'object' && 'control' in record) this.host.error(protocol(`${this.peer} relayed a channel control`));
      else this.host.deliver(this.peer, record);
    }
  }

  private decode(frame: Uint8Array): Decoded[] {
    try {
      return decodeFrame(frame);
    } catch (err) {
      this.host.error(err as VnfError);
      return [];
    }
  }

  // ---- send queue -----------------------------------------------------------------------------

  private flush(): void {
    if (this.finished) return;
    const { highWaterMark, lowWaterMark } = this.host.options;
    if (this.path === 'direct' && this.link?.isOpen) {
      const link = this.link;
      while (this.queue.length > 0 && link.bufferedAmount < highWaterMark && this.link === link) link.send(this.queue.takeFrame(FRAME_BUDGET));
    } else if (this.path === 'relay') {
      while (this.queue.length > 0 && this.host.signalingBuffered(this.peer) < highWaterMark) {
        if (!this.host.sendRelay(this.peer, this.queue.takeFrame(FRAME_BUDGET))) {
          this.onSignalingLost();
          return;
        }
      }
    }
    const buffered = this.bufferedAmount();
    this.transportBuffered = buffered - this.queue.bytes;
    if (this.aboveHighWater && buffered < lowWaterMark) {
      this.aboveHighWater = false;
      this.host.drain(this.peer);
    }
    const blocked = this.queue.length > 0 && this.path !== null;
    if ((blocked || this.aboveHighWater) && !this.pollTimer && !this.finished) {
      this.pollTimer = setTimeout(() => {
        this.pollTimer = undefined;
        this.flush();
      }, POLL_MS);
    }
  }
}

function isBye(frame: Uint8Array): boolean {
  try {
    return decodeFrame(frame).some((record) => typeof record === 'object' && 'control' in record && record.control === ChannelControl.BYE);
  } catch {
    return false;
  }
}

function protocol(what: string): VnfError {
  return new VnfError('PROTOCOL', `RtcHub signaling: ${what}.`);
}
