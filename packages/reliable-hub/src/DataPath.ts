import { VnfError, createLogger, type Endpoint, type Payload } from '@vnf/core';
import { FRAME_OVERHEAD, encodeAck, encodeData } from './frameCodec';
import type { Link, LossReason } from './Link';
import type { Outgoing, SendBuffer } from './SendBuffer';
import type { ResolvedOptions } from './options';

const log = createLogger('reliable-hub');

/** Acknowledge at least every this many in-order messages, whatever `ackDelayMs` says. */
const MAX_ACK_EVERY = 16;
/**
 * Times an acknowledgement is repeated, `ackDelayMs` apart, while the receiver holds a gap and no data arrives:
 * if it was lost, the sender learns what is missing without waiting for its probe timeout.
 */
const ACK_REPEATS = 2;
/** Copies of an acknowledgement that reports a gap (see DataPath.acknowledge). */
const GAP_ACK_COPIES = 2;
/** Largest retransmission sent twice when it ends what may be sent (see pump): a copy of a large one costs more than a wait. */
const TAIL_COPY_MAX_BYTES = 16 * 1024;
/** Over an inner hub that owes no `drain` when sending paused on it (see ResolvedOptions.innerDrains), how soon to try again. */
const BLIND_RETRY_MS = 20;

/** What the data path needs of the endpoint. */
export interface DataPathHost {
  readonly eva: string;
  readonly options: ResolvedOptions;
  readonly inner: Endpoint;
  /** True while `link` is the endpoint's connection to its peer (not lost, closed or replaced). */
  isCurrent(link: Link): boolean;
  /** Hands a message to the application. */
  deliver(peer: string, payload: Payload): void;
  /** Sends a control frame, best effort. */
  sendControl(peer: string, frame: string): void;
  /** The inner connection to `peer` turned out to be gone: restore it. */
  innerLost(peer: string): void;
  lose(link: Link, reason: LossReason, error: VnfError): void;
  /** A send was refused BUFFER_FULL: a `drain` is owed. */
  oweDrain(peer: string): void;
  /** The send buffer toward `peer` shrank: an owed `drain` may be due. */
  checkDrain(peer: string): void;
}

/**
 * The data path of every link: the send buffer's limits, handing frames to the inner endpoint as the window and the
 * inner buffer allow, retransmission, acknowledgements both ways, and in-order delivery from the receive buffer.
 */
export class DataPath {
  constructor(private readonly host: DataPathHost) {}

  /** Accepts a message of `size` bytes from `send`; throws BUFFER_FULL when the send buffer is at its limit. */
  send(link: Link, payload: Payload, size: number): void {
    const { eva, options } = this.host;
    const { send, peer } = link;
    if (send.size >= options.maxBufferedMessages || (send.size > 0 && send.bytes + size > options.maxBufferedBytes)) {
      this.host.oweDrain(peer);
      throw new VnfError(
        'BUFFER_FULL',
        `The send buffer from ${eva} to ${peer} is full (${send.bytes} bytes in ${send.size} messages not yet ` +
          'acknowledged). Wait for the `drain` event, or pace on bufferedAmount(), then send again.',
        { details: { eva, targetEva: peer, bufferedBytes: send.bytes, bufferedMessages: send.size } },
      );
    }
    send.push(size, encodeData(link.tag, send.nextSeq, payload, link.dataHeader));
    this.schedulePump(link);
  }

  /** Hands what `send` accepted to the inner endpoint now rather than at the end of the turn (before a CLOSE). */
  flush(link: Link): void {
    if (link.pumpScheduled) this.pump(link);
  }

  /** Due once the unacknowledged bytes are at most lowWaterMark and the messages at most half the limit (after BUFFER_FULL on it). */
  drained(send: SendBuffer | undefined, lowWaterMark: number): boolean {
    return !send || (send.bytes <= lowWaterMark && send.size <= this.host.options.maxBufferedMessages / 2);
  }

  onData(link: Link, seq: number, payload: Payload): void {
    link.ackRepeats = 0;
    const hadGap = link.recv.hasGap;
    const arrival = link.recv.accept(seq, payload);
    if (arrival === 'outsideWindow') {
      log('%s: dropped message %d from %s: beyond the window', this.host.eva, seq, link.peer);
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
      this.host.deliver(link.peer, typeof next === 'string' ? next : (next as Uint8Array).slice());
      delivered++;
      // The application may have closed the connection or destroyed the endpoint in its handler.
      if (!this.host.isCurrent(link)) return;
      next = link.recv.takeReady();
    }
    link.unacked += delivered;
    const { sendWindow, ackDelayMs } = this.host.options;
    if (hadGap || link.unacked >= Math.min(MAX_ACK_EVERY, Math.ceil(sendWindow / 4))) this.scheduleAck(link);
    else if (!link.ackTimer.armed) link.ackTimer.set(ackDelayMs);
  }

  /** Acknowledges now; what is missing is said twice (see `acknowledge`). */
  sendAck(link: Link): void {
    this.acknowledge(link, GAP_ACK_COPIES);
  }

  /** The repeat timer fired: acknowledge again while a gap is held, in case the last acknowledgement was lost. */
  repeatAck(link: Link): void {
    if (!link.recv.hasGap) return;
    link.ackRepeats++;
    this.acknowledge(link, 1);
  }

  onAck(link: Link, cum: number, ranges: Array<[number, number]>): void {
    const { advanced, released } = link.send.acknowledge(cum, ranges, performance.now());
    if (advanced) link.settleWaiters();
    this.service(link);
    if (released > 0) this.host.checkDrain(link.peer);
  }

  /** Declares losses, sends what may be sent and arms the retransmission timer. */
  service(link: Link): void {
    if (!link.innerUp || !this.host.isCurrent(link)) return;
    const now = performance.now();
    const next = link.send.detectLosses(now);
    if (next === null) link.retransmitTimer.clear();
    else link.retransmitTimer.set(next - now);
    this.pump(link);
  }

  /**
   * Sends the acknowledgement, `gapCopies` times while a gap is held: one acknowledgement often answers a whole
   * batch of retransmissions, and with it lost the sender, its window full behind the gap, learns nothing until
   * the repeat or its probe. Without a gap one is enough: the next one says more.
   */
  private acknowledge(link: Link, gapCopies: number): void {
    link.ackTimer.clear();
    link.unacked = 0;
    const frame = encodeAck(link.tag, link.recv.cumulative, link.recv.ranges());
    this.host.sendControl(link.peer, frame);
    if (!link.recv.hasGap) {
      link.repeatAckTimer.clear();
      return;
    }
    for (let i = 1; i < gapCopies; i++) this.host.sendControl(link.peer, frame);
    if (link.ackRepeats < ACK_REPEATS) link.repeatAckTimer.set(this.host.options.ackDelayMs);
    else link.repeatAckTimer.clear();
  }

  /** Acknowledges at the end of the current turn, so frames delivered in one batch share one ACK. */
  private scheduleAck(link: Link): void {
    if (link.ackScheduled) return;
    link.ackScheduled = true;
    queueMicrotask(() => {
      link.ackScheduled = false;
      if (this.host.isCurrent(link)) this.sendAck(link);
    });
  }

  /**
   * Pumps at the end of the turn: a burst of sends then costs one pass, one read of the clock and of the inner
   * buffer, and the frames still leave in the same turn (the inner layers batch per turn too).
   */
  private schedulePump(link: Link): void {
    if (link.pumpScheduled) return;
    link.pumpScheduled = true;
    queueMicrotask(() => {
      if (link.pumpScheduled && this.host.isCurrent(link)) this.pump(link);
    });
  }

  /** Hands frames to the inner endpoint while the window and the inner buffer allow. */
  private pump(link: Link): void {
    link.pumpScheduled = false;
    if (!link.innerUp) return;
    const now = performance.now();
    let sent = false;
    // Read once: over RtcHub, bufferedAmount is a native call, too slow for every frame. The frames handed over
    // in this loop are counted as they go (their payload and at most a header each).
    let innerBuffered = -1;
    const { innerHighWaterMark, innerDrains } = this.host.options;
    let last: Outgoing | null = null;
    for (let entry = link.send.peek(); entry !== null; entry = link.send.peek()) {
      if (innerBuffered < 0) innerBuffered = this.host.inner.bufferedAmount(link.peer);
      // The estimate counts headers at their largest: read the real figure before pausing on it. Paused past the
      // inner hub's high mark, the inner endpoint owes a drain (every send is checked there), which resumes us.
      if (innerBuffered > innerHighWaterMark && (innerBuffered = this.host.inner.bufferedAmount(link.peer)) > innerHighWaterMark) {
        if (!innerDrains) this.retryBlind(link);
        last = null;
        break;
      }
      if (!this.innerSend(link, entry.frame)) {
        last = null;
        break;
      }
      link.send.sent(entry, now);
      innerBuffered += entry.size + FRAME_OVERHEAD;
      sent = true;
      last = entry;
    }
    // A retransmission (or probe) that ends what may be sent has nothing after it whose acknowledgement would reveal
    // its loss: only the next probe would, a probe timeout later. A second copy, as RFC 9002 (6.2.4) allows a
    // probe, makes that wait 1 % likely instead of 10 % at 10 % loss; the receiver acknowledges a duplicate at once
    // and drops it. It is not a transmission of its own for loss detection.
    if (last !== null && last.retransmitted && last.size <= TAIL_COPY_MAX_BYTES) this.innerSend(link, last.frame);
    if (sent && !link.retransmitTimer.armed) link.retransmitTimer.set(link.send.rtt.probeTimeout);
  }

  /** Tries again soon: the inner layer will not say when it has room. */
  private retryBlind(link: Link): void {
    if (!link.retransmitTimer.armed) link.retransmitTimer.set(BLIND_RETRY_MS);
  }

  /** Sends a data frame; false when it could not be handed over now (the caller stops and retries later). */
  private innerSend(link: Link, frame: Payload): boolean {
    try {
      this.host.inner.send(link.peer, frame);
      return true;
    } catch (err) {
      if (VnfError.is(err, 'BUFFER_FULL')) {
        // A VNF inner hub owes a drain after BUFFER_FULL too; one without drain marks may not.
        if (!innerDrains(this.host.options)) this.retryBlind(link);
      } else if (VnfError.is(err, 'NOT_CONNECTED') || VnfError.is(err, 'UNAVAILABLE')) {
        // The inner endpoint's lost-event may still be on its way; do not wait for it.
        this.host.innerLost(link.peer);
      } else {
        const cause = VnfError.is(err) ? err : new VnfError('INTERNAL', `The inner endpoint's send threw: ${String(err)}`, { cause: err });
        this.host.lose(link, 'failed', cause);
      }
      return false;
    }
  }
}

/** Whether the inner hub has drain marks at all (BUFFER_FULL owes a drain on every VNF hub that has them). */
function innerDrains(options: ResolvedOptions): boolean {
  return Number.isFinite(options.innerHighWaterMark) && options.innerDrains;
}
