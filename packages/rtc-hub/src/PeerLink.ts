import SimplePeer from 'simple-peer';
import { createLogger } from '@vnf/core';
import type { WebRtcImplementation } from './webRtcImplementation';
import type { SignalData } from './signalingFrames';
import { closeOutsideCallbacks } from './peerTeardown';

const log = createLogger('rtc-hub:link');

/** Why a data channel attempt ended; sent to the peer and used as the ConnectionEvent reason. */
export type LinkFailure =
  | 'ICE_TIMEOUT'
  | 'ICE_FAILED'
  | 'ICE_DISCONNECTED'
  | 'NO_CANDIDATES'
  | 'CHANNEL_CLOSED'
  | 'WEBRTC_ERROR';

export interface PeerLinkOptions {
  id: string;
  initiator: boolean;
  wrtc: WebRtcImplementation;
  iceServers: RTCIceServer[];
  iceTransportPolicy: RTCIceTransportPolicy;
  channelConfig: RTCDataChannelInit;
  /** How long ICE may take to connect, and how long it may stay disconnected once connected. */
  iceTimeoutMs: number;
  /** `bufferedAmount` at or below which the channel reports `bufferedLow` (its `bufferedAmountLowThreshold`). */
  bufferedLowThreshold: number;
}

export interface PeerLinkHandlers {
  signal(data: SignalData): void;
  open(): void;
  data(frame: Uint8Array): void;
  /** The channel's `bufferedamountlow`: its buffer fell to `bufferedLowThreshold`. Only where `signalsBufferedLow`. */
  bufferedLow(): void;
  /** Once, unless `destroy()` was called first. */
  closed(reason: LinkFailure): void;
}

/** simple-peer's private state this wrapper has to reach into; kept to one place. */
interface SimplePeerInternals {
  _iceCompleteTimer: ReturnType<typeof setTimeout> | null;
  _pc: RTCPeerConnection | null;
  _channel: RTCDataChannel | null;
}

/** Largest `bufferedAmountLowThreshold` (an unsigned long). */
const MAX_THRESHOLD = 0xffffffff;

/**
 * One WebRTC peer connection with one data channel. The only file that knows simple-peer (unmaintained since
 * 2022): it turns simple-peer's stream and error events into open/data/closed once each, adds an ICE timeout
 * and detects attempts that cannot gather a single candidate.
 */
export class PeerLink {
  readonly id: string;
  private readonly peer: SimplePeer.Instance;
  private readonly handlers: PeerLinkHandlers;
  private readonly iceTimeoutMs: number;
  private readonly bufferedLowThreshold: number;
  /** The data channel while this link listens to its `bufferedamountlow`. */
  private watchedChannel: RTCDataChannel | null = null;
  /**
   * The channel's `bufferedAmount` as read in this turn plus what this link sent since, forgotten on the next
   * microtask. Each read of a @roamhq/wrtc channel property is a synchronous call into WebRTC's signaling thread
   * (tens to hundreds of µs), so the count is read once a turn, not once a message. Browsers' count behaves the same
   * way: it grows with each `send` and shrinks only in a task of its own, never within the caller's turn.
   */
  private bufferedThisTurn: number | undefined;
  private iceTimer: ReturnType<typeof setTimeout> | undefined;
  private localCandidates = 0;
  /** Set while closing gracefully: ends the wait and releases the connection. */
  private endLinger: (() => void) | undefined;
  private opened = false;
  private finished = false;

  constructor(options: PeerLinkOptions, handlers: PeerLinkHandlers) {
    this.id = options.id;
    this.handlers = handlers;
    this.iceTimeoutMs = options.iceTimeoutMs;
    this.bufferedLowThreshold = Math.min(Math.floor(options.bufferedLowThreshold), MAX_THRESHOLD);
    this.onBufferedAmountLow = this.onBufferedAmountLow.bind(this);
    this.forgetBuffered = this.forgetBuffered.bind(this);
    this.peer = new SimplePeer({
      initiator: options.initiator,
      wrtc: options.wrtc,
      // Always set iceServers: simple-peer's default configuration points at public STUN servers.
      config: { iceServers: options.iceServers, iceTransportPolicy: options.iceTransportPolicy },
      channelConfig: options.channelConfig,
      trickle: true,
    });
    this.startIceTimer('ICE_TIMEOUT');
    this.peer.on('signal', (data: SignalData) => {
      if (data.type === 'candidate') this.localCandidates++;
      if (!this.finished) handlers.signal(data);
    });
    this.peer.on('connect', () => this.markOpen());
    this.peer.on('data', (chunk: Uint8Array) => {
      if (this.finished) return;
      // simple-peer reports `connect` after a stats round trip; the peer's first frames may come sooner.
      this.markOpen();
      handlers.data(chunk);
    });
    this.peer.on('iceStateChange', (connection: RTCIceConnectionState) => this.onIceState(connection));
    // simple-peer's end-of-candidates event: a side without a single candidate can never connect, so say so now
    // instead of waiting for the ICE timeout. @roamhq/wrtc may report the end before the candidates themselves,
    // so the local description (which lists every gathered candidate) decides too.
    this.peer.on('_iceComplete', () => {
      if (this.localCandidates === 0 && !this.opened && !this.describesCandidates()) this.fail('NO_CANDIDATES');
    });
    this.peer.on('error', (err: Error & { code?: string }) => {
      log('link %s error %s: %s', this.id, err.code, err.message);
      this.fail(err.code === 'ERR_ICE_CONNECTION_FAILURE' || err.code === 'ERR_CONNECTION_FAILURE' ? 'ICE_FAILED' : this.opened ? 'CHANNEL_CLOSED' : 'WEBRTC_ERROR');
    });
    this.peer.on('close', () => this.fail('CHANNEL_CLOSED'));
  }

  get isOpen(): boolean {
    return this.opened && !this.finished;
  }

  /**
   * Whether the channel reports `bufferedLow` when its buffer falls to the threshold. Browsers' channels do;
   * @roamhq/wrtc 0.10's have neither `bufferedAmountLowThreshold` nor the `bufferedamountlow` event.
   */
  get signalsBufferedLow(): boolean {
    return this.watchedChannel !== null;
  }

  /** Bytes the data channel holds that the network has not taken yet, as of this turn. */
  get bufferedAmount(): number {
    if (this.finished) return 0;
    if (this.bufferedThisTurn === undefined) {
      this.bufferedThisTurn = this.peer.bufferSize;
      queueMicrotask(this.forgetBuffered);
    }
    return this.bufferedThisTurn;
  }

  /** Feeds the peer's offer, answer or candidate. */
  signal(data: SignalData): void {
    if (this.finished) return;
    try {
      this.peer.signal(data as unknown as SimplePeer.SignalData);
    } catch (err) {
      log('link %s rejected signal data: %s', this.id, String(err));
      this.fail('WEBRTC_ERROR');
    }
  }

  /** Sends one frame; a failure closes the link (reported through `closed`). */
  send(frame: Uint8Array): void {
    if (!this.isOpen) return;
    try {
      this.peer.send(frame);
      if (this.bufferedThisTurn !== undefined) this.bufferedThisTurn += frame.byteLength;
    } catch (err) {
      log('link %s send failed: %s', this.id, String(err));
      this.fail('CHANNEL_CLOSED');
    }
  }

  /** Closes the connection without reporting `closed`, at once (also while closing gracefully). Idempotent. */
  destroy(): void {
    if (this.endLinger) return this.endLinger();
    if (this.finished) return;
    this.finished = true;
    this.release();
  }

  /**
   * Closes once the peer has read everything sent: closing the peer connection at once would drop frames
   * still in flight. Waits until the peer closes its side, `peerDone` accepts a frame from the peer, or
   * `graceMs` passed, or `destroy()` is called; reports nothing. Resolves once the connection is released.
   */
  closeGracefully(graceMs: number, peerDone: (frame: Uint8Array) => boolean): Promise<void> {
    if (this.finished) return Promise.resolve();
    this.finished = true;
    clearTimeout(this.iceTimer);
    this.iceTimer = undefined;
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.endLinger?.(), graceMs);
      this.endLinger = () => {
        this.endLinger = undefined;
        clearTimeout(timer);
        this.release();
        resolve();
      };
      this.peer.removeAllListeners('data');
      this.peer.removeAllListeners('close');
      this.peer.on('data', (frame: Uint8Array) => {
        if (peerDone(frame)) this.endLinger?.();
      });
      this.peer.on('close', () => this.endLinger?.());
    });
  }

  private markOpen(): void {
    if (this.opened || this.finished) return;
    this.opened = true;
    clearTimeout(this.iceTimer);
    this.iceTimer = undefined;
    this.watchBufferedLow();
    this.handlers.open();
  }

  /**
   * Listens to the channel's `bufferedamountlow` where it has one, with a listener of its own: simple-peer's
   * `onbufferedamountlow` stays as it is. simple-peer set the threshold to 64 KiB for its stream interface
   * (`write`, `pipe`: a write that leaves more than 64 KiB waits for the event, which a higher threshold might
   * never fire). This wrapper never writes to that stream, it calls `send`, so the threshold is the hub's.
   */
  private watchBufferedLow(): void {
    const channel = (this.peer as unknown as SimplePeerInternals)._channel;
    if (!channel || typeof channel.bufferedAmountLowThreshold !== 'number' || typeof channel.addEventListener !== 'function') return;
    channel.bufferedAmountLowThreshold = this.bufferedLowThreshold;
    channel.addEventListener('bufferedamountlow', this.onBufferedAmountLow);
    this.watchedChannel = channel;
  }

  private forgetBuffered(): void {
    this.bufferedThisTurn = undefined;
  }

  private onBufferedAmountLow(): void {
    if (!this.finished) this.handlers.bufferedLow();
  }

  private onIceState(connection: RTCIceConnectionState): void {
    if (this.finished) return;
    if (connection === 'disconnected' && this.opened && this.iceTimer === undefined) {
      // Consent checks stopped being answered (peer gone, network changed); ICE may still recover.
      this.startIceTimer('ICE_DISCONNECTED');
    } else if ((connection === 'connected' || connection === 'completed') && this.opened) {
      clearTimeout(this.iceTimer);
      this.iceTimer = undefined;
    }
  }

  private describesCandidates(): boolean {
    const sdp = (this.peer as unknown as SimplePeerInternals)._pc?.localDescription?.sdp ?? '';
    return sdp.includes('a=candidate');
  }

  private startIceTimer(reason: LinkFailure): void {
    this.iceTimer = setTimeout(() => {
      this.iceTimer = undefined;
      this.fail(reason);
    }, this.iceTimeoutMs);
  }

  private fail(reason: LinkFailure): void {
    if (this.finished) return;
    this.finished = true;
    log('link %s closed: %s', this.id, reason);
    this.release();
    this.handlers.closed(reason);
  }

  private release(): void {
    clearTimeout(this.iceTimer);
    this.iceTimer = undefined;
    this.watchedChannel?.removeEventListener('bufferedamountlow', this.onBufferedAmountLow);
    this.watchedChannel = null;
    const peer = this.peer;
    closeOutsideCallbacks(() => {
      peer.destroy();
      // simple-peer leaves this 5 s timer running after destroy, which would keep Node (and jest) alive.
      const internals = peer as unknown as SimplePeerInternals;
      clearTimeout(internals._iceCompleteTimer ?? undefined);
      internals._iceCompleteTimer = null;
    });
  }
}
