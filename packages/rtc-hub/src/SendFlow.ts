import { dataChannel } from '@vnf/protocol';
import type { PeerLink } from './PeerLink';
import { SendQueue } from './sendQueue';

const { toRecord } = dataChannel;
type FrameRecord = dataChannel.FrameRecord;

/**
 * Largest coalesced frame (a single bigger message still goes alone). Every frame is one native send, the costliest
 * step of a flush: with @roamhq/wrtc each is a synchronous call into WebRTC's signaling thread, hundreds of µs. 64 KiB
 * is the max-message-size a peer must accept when its SDP names none (RFC 8841), and no larger than the frame of one
 * message of the default maxPayloadSize. 16 KiB frames took four sends where these take one; 256 KiB frames measured
 * slower again: a receiver gets nothing of a frame before all of it arrived, so it stops overlapping its work with
 * the next frame's transit.
 */
const FRAME_BUDGET = 64 * 1024;
/**
 * How often a waiting queue looks at the buffer beneath it, only where nothing signals that it shrank: a data
 * channel without `bufferedamountlow` (@roamhq/wrtc 0.10 has neither the event nor `bufferedAmountLowThreshold`),
 * or a signaling hub that never emits `drain` (its highWaterMark is Infinity).
 */
const POLL_MS = 5;

/** Where the queue's frames go: the open data channel, the signaling connection, or nowhere yet. */
export type Route = PeerLink | 'relay' | null;

/** What a send flow needs from its session. */
export interface SendFlowHost {
  /** RtcHub's marks: a data channel holding highWaterMark bytes takes no more until it signals it fell to lowWaterMark. */
  readonly highWaterMark: number;
  readonly lowWaterMark: number;
  /** The signaling hub's highWaterMark: past it, the signaling endpoint owes the `drain` that resumes the relay. */
  readonly signalingHighWaterMark: number;
  /** The signaling hub's maxPayloadSize: no relayed frame may be larger. */
  readonly signalingMaxPayloadSize: number;
  route(): Route;
  /** Sends a relayed data frame over the signaling connection; false when that connection is down. */
  sendRelay(frame: Uint8Array): boolean;
  /** Bytes the signaling endpoint holds toward the peer. */
  signalingBuffered(): number;
  /** A relayed frame could not be sent: the signaling connection is gone. */
  relayFailed(): void;
  /** The buffer toward the peer may have shrunk: an owed `drain` may be due. */
  drain(): void;
}

/**
 * The coalescing, backpressured send queue toward one peer. It hands frames to the route while the buffer beneath
 * has room and then waits for that buffer's own signal: the data channel's `bufferedamountlow`, or the signaling
 * endpoint's `drain` (it stops only after a frame of its own left that buffer past the signaling hub's high mark,
 * so a `drain` is owed). Every time frames leave or the buffer beneath shrinks it tells the host, which emits
 * the `drain` the endpoint owes.
 */
export class SendFlow {
  private readonly host: SendFlowHost;
  /** Largest coalesced relayed frame; a single message still fits, as maxPayloadSize is bounded by the signaling hub's. */
  private readonly relayBudget: number;
  private readonly queue = new SendQueue();
  private flushScheduled = false;
  /** The signaling endpoint owes a `drain` for a frame of ours; the relay waits for it. */
  private relayWaits = false;
  /**
   * The buffer passed highWaterMark since it was last at or below lowWaterMark, so the endpoint may owe a `drain`.
   * Only the fallback poll reads it; the host itself is asked on every flush.
   */
  private mayOweDrain = false;
  /** The route's own count as of the last flush: reading it is a native call, too slow for every message. */
  private transportBuffered = 0;
  private pollTimer: ReturnType<typeof setTimeout> | undefined;
  private disposed = false;

  constructor(host: SendFlowHost) {
    this.host = host;
    this.relayBudget = Math.min(FRAME_BUDGET, host.signalingMaxPayloadSize);
  }

  /** Bytes queued here plus those the route holds. */
  bufferedAmount(): number {
    const route = this.host.route();
    if (route === 'relay') return this.queue.bytes + this.host.signalingBuffered();
    return this.queue.bytes + (route ? route.bufferedAmount : 0);
  }

  send(message: string | Uint8Array | ArrayBuffer): void {
    this.sendRecord(toRecord(message));
  }

  /** Queues a record, built once for several peers (a multicast): records are never changed once made. */
  sendRecord(record: FrameRecord): void {
    this.queue.push(record);
    if (this.queue.bytes + this.transportBuffered > this.host.highWaterMark) this.mayOweDrain = true;
    // Everything sent in this tick goes out together, in frames of up to FRAME_BUDGET bytes.
    this.schedule();
  }

  /** Flushes at the end of this turn: the route changed, or the buffer beneath may have shrunk. */
  schedule(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /** Nothing waits here: a frame relayed outside this queue now comes after everything sent before it. */
  get idle(): boolean {
    return this.queue.length === 0 && !this.relayWaits;
  }

  /** The signaling endpoint emitted `drain` toward the peer. */
  signalingDrained(): void {
    this.relayWaits = false;
    this.flush();
  }

  /** The signaling connection dropped: the `drain` it owed went with it. */
  signalingLost(): void {
    this.relayWaits = false;
  }

  /** Hands everything queued to `route` at once, whatever its buffer holds: the connection is closing. */
  sendAll(route: PeerLink | 'relay'): void {
    if (route === 'relay') {
      while (this.queue.length > 0 && this.host.sendRelay(this.queue.takeFrame(this.relayBudget)));
    } else {
      while (this.queue.length > 0) route.send(this.queue.takeFrame(FRAME_BUDGET));
    }
  }

  /** Sends what the route takes now, then tells the host the buffer may have shrunk. */
  flush(): void {
    if (this.disposed) return;
    const route = this.host.route();
    if (route === 'relay') {
      if (!this.flushRelay()) return;
    } else if (route?.isOpen) {
      const { highWaterMark } = this.host;
      while (this.queue.length > 0 && route.bufferedAmount < highWaterMark && this.host.route() === route) route.send(this.queue.takeFrame(FRAME_BUDGET));
    }
    const buffered = this.bufferedAmount();
    this.transportBuffered = buffered - this.queue.bytes;
    if (buffered <= this.host.lowWaterMark) this.mayOweDrain = false;
    this.host.drain();
    if (this.disposed || this.pollTimer || !this.mustPoll(this.host.route())) return;
    this.pollTimer = setTimeout(() => {
      this.pollTimer = undefined;
      this.flush();
    }, POLL_MS);
  }

  dispose(): void {
    this.disposed = true;
    clearTimeout(this.pollTimer);
    this.pollTimer = undefined;
    this.queue.clear();
  }

  /** False when the signaling connection is gone (the host was told). */
  private flushRelay(): boolean {
    const { signalingHighWaterMark } = this.host;
    while (this.queue.length > 0 && !this.relayWaits) {
      if (!this.host.sendRelay(this.queue.takeFrame(this.relayBudget))) {
        this.host.relayFailed();
        return false;
      }
      if (this.host.signalingBuffered() > signalingHighWaterMark) this.relayWaits = true;
    }
    return true;
  }

  /** Whether something waits on a route that will not say when its buffer shrank. */
  private mustPoll(route: Route): boolean {
    if (route === null) return false;
    const signalled = route === 'relay' ? Number.isFinite(this.host.signalingHighWaterMark) : route.signalsBufferedLow;
    return !signalled && (this.queue.length > 0 || this.mayOweDrain);
  }
}
