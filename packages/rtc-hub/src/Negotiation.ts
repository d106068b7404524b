import { createLogger } from '@vnf/core';
import type { VnfError } from '@vnf/core';
import { dataChannel } from '@vnf/protocol';
import { PeerLink } from './PeerLink';
import { protocolError, type ControlFrame, type SignalData } from './signalingFrames';
import type { ResolvedRtcHubOptions } from './options';
import type { WebRtcImplementation } from './webRtcImplementation';

const { ChannelControl, controlRecord, encodeFrame } = dataChannel;

const log = createLogger('rtc-hub:session');

/** What the data channel attempts toward one peer need from their session. */
export interface NegotiationHost {
  readonly eva: string;
  readonly peer: string;
  readonly options: ResolvedRtcHubOptions;
  readonly wrtc: WebRtcImplementation;
  /** Whether messages travel over the signaling connection now (then a new channel is tried every directRetryMs). */
  relaying(): boolean;
  /** False when this side or the peer has forceRelay: no channel is attempted, and an offer is refused. */
  directAllowed(): boolean;
  /** Sends a control frame over the signaling connection; false when that connection is down. */
  sendControl(frame: ControlFrame): boolean;
  /**
   * The peer starts a new data channel (a ring or an offer), so it lost the one we may still consider open.
   * False when that ended the session: a new session must take the frame.
   */
  peerStartsOver(): boolean;
  /** The channel is open on both sides and may carry messages. */
  channelUsable(link: PeerLink): void;
  /** The READY/ACK handshake is complete: the peer is connected too. */
  channelConfirmed(): void;
  /** A data frame arrived on the current channel. */
  channelFrame(link: PeerLink, frame: Uint8Array): void;
  /** The current channel's buffer fell to lowWaterMark (where the channel signals it). */
  channelWritable(link: PeerLink): void;
  /** The current channel closed or failed (it is destroyed already). */
  channelClosed(link: PeerLink, reason: string): void;
  /** The current channel was given up on purpose (replaced by a new attempt). */
  channelDropped(): void;
  /** No channel came of the attempt: the peer did not answer the ring, or the ring could not be sent. */
  attemptFailed(reason: string): void;
  error(error: VnfError): void;
}

function newLinkId(): string {
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

/**
 * The data channel attempts toward one peer: who offers (glare: only the smaller eva, so one channel results),
 * the ring the other side sends and its answer timeout, the READY/ACK handshake on a new channel, and the retry
 * of a direct channel while relaying.
 */
export class Negotiation {
  /** Whether this side makes the offers. */
  readonly initiator: boolean;
  private readonly host: NegotiationHost;
  private current: PeerLink | null = null;
  private answerTimer: ReturnType<typeof setTimeout> | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private disposed = false;

  constructor(host: NegotiationHost) {
    this.host = host;
    this.initiator = host.eva < host.peer;
  }

  /** The channel of the current attempt, open or not. */
  get link(): PeerLink | null {
    return this.current;
  }

  /** Starts an attempt unless one is running. */
  open(): void {
    if (this.current || this.answerTimer) return;
    this.attempt();
  }

  /** The peer asks this side to offer. Returns false when the session ended and a new one must take the frame. */
  onRing(): boolean {
    if (!this.initiator) {
      this.host.error(protocolError(`${this.host.peer} asked ${this.host.eva} to offer, but the smaller eva offers`));
      return true;
    }
    if (!this.host.peerStartsOver()) return false;
    if (!this.current) this.attempt();
    return true;
  }

  /** Offer, answer or candidate of attempt `id`. Returns false when the session ended and a new one must take the frame. */
  onSignal(id: string, data: SignalData): boolean {
    if (this.current?.id === id) {
      this.current.signal(data);
      return true;
    }
    if (data.type !== 'offer') return true; // a late candidate of an attempt that is gone
    if (this.initiator) {
      this.host.error(protocolError(`${this.host.peer} made an offer, but the smaller eva (${this.host.eva}) offers`));
      return true;
    }
    if (!this.host.peerStartsOver()) return false;
    clearTimeout(this.answerTimer);
    this.answerTimer = undefined;
    if (!this.host.directAllowed()) {
      // The relay frame goes first, so the peer learns it must not retry before its attempt fails.
      this.host.attemptFailed('RELAY_FORCED');
      this.host.sendControl({ t: 'fail', id, reason: 'RELAY_FORCED' });
      return true;
    }
    if (this.current) this.drop();
    this.createLink(id).signal(data);
    return true;
  }

  /** The peer reports attempt `id` failed on its side. */
  onFail(id: string, reason: string): void {
    if (this.current?.id === id) this.closeLink(this.current, reason);
  }

  /** Handles READY or ACK from the channel; false for any other code. */
  onHandshake(link: PeerLink, code: number): boolean {
    if (code === ChannelControl.READY && this.initiator) {
      link.send(encodeFrame([controlRecord(ChannelControl.ACK)]));
      this.host.channelUsable(link);
      this.host.channelConfirmed();
      return true;
    }
    if (code === ChannelControl.ACK && !this.initiator) {
      this.host.channelConfirmed();
      return true;
    }
    return false;
  }

  /** Ends `link` as if it had closed itself (the peer gave it up). */
  closeLink(link: PeerLink, reason: string): void {
    if (this.current !== link) return;
    link.destroy();
    this.current = null;
    this.host.channelClosed(link, reason);
  }

  /** Gives up the current channel, if any. */
  drop(): void {
    this.current?.destroy();
    this.current = null;
    this.host.channelDropped();
  }

  /** Lets go of the current channel without closing it: the caller closes it gracefully. */
  detach(): void {
    this.current = null;
  }

  /** While relaying, the initiator tries a direct channel again after directRetryMs. */
  retryLater(): void {
    if (!this.initiator || this.retryTimer || this.disposed || !this.host.directAllowed()) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.current || !this.host.relaying() || !this.host.directAllowed()) return;
      this.createLink(newLinkId());
    }, this.host.options.directRetryMs);
  }

  cancelRetry(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  /** The peer has forceRelay: stop waiting for its offer, stop retrying, and give up the channel being made. */
  giveUp(): void {
    clearTimeout(this.answerTimer);
    this.answerTimer = undefined;
    this.cancelRetry();
    if (this.current) this.closeLink(this.current, 'RELAY_FORCED');
  }

  dispose(): void {
    this.disposed = true;
    this.current?.destroy();
    this.current = null;
    clearTimeout(this.answerTimer);
    this.answerTimer = undefined;
    this.cancelRetry();
  }

  private attempt(): void {
    if (!this.host.directAllowed()) return this.host.attemptFailed('RELAY_FORCED');
    if (this.initiator) {
      this.createLink(newLinkId());
      return;
    }
    if (!this.host.sendControl({ t: 'ring' })) return this.host.attemptFailed('SIGNALING_LOST');
    this.answerTimer = setTimeout(() => {
      this.answerTimer = undefined;
      this.host.attemptFailed('NO_ANSWER');
    }, this.host.options.iceTimeoutMs);
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
        bufferedLowThreshold: options.lowWaterMark,
      },
      {
        signal: (data) => {
          if (!this.host.sendControl({ t: 'signal', id, data }) && !link.isOpen) this.closeLink(link, 'SIGNALING_LOST');
        },
        open: () => this.opened(link),
        data: (frame) => {
          if (this.current === link) this.host.channelFrame(link, frame);
        },
        bufferedLow: () => {
          if (this.current === link) this.host.channelWritable(link);
        },
        closed: (reason) => {
          this.host.sendControl({ t: 'fail', id, reason });
          this.closeLink(link, reason);
        },
      },
    );
    this.current = link;
    return link;
  }

  private opened(link: PeerLink): void {
    if (this.current !== link) return;
    log('%s → %s: data channel %s open', this.host.eva, this.host.peer, link.id);
    // The initiator waits for READY, so that when it reports CONNECTED the peer is connected too.
    if (this.initiator) return;
    link.send(encodeFrame([controlRecord(ChannelControl.READY)]));
    this.host.channelUsable(link);
  }
}
