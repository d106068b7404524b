import { deferred, type Deferred } from '@vnf/core';
import { dataHeader } from './frameCodec';
import { ReceiveBuffer } from './ReceiveBuffer';
import type { ReplayWindow } from './ReplayWindow';
import { RttEstimator } from './RttEstimator';
import { SendBuffer } from './SendBuffer';
import { Timer } from './Timer';
import type { ResolvedOptions } from './options';

/** Why a link ended. */
export type LossReason = 'closed' | 'reset' | 'superseded' | 'restarted' | 'timeout' | 'failed';

/** What a link's timers call back into (the endpoint). */
export interface LinkHandlers {
  retransmit(link: Link): void;
  ack(link: Link): void;
  repeatAck(link: Link): void;
  heartbeat(link: Link): void;
  restoreExpired(link: Link): void;
  reopen(link: Link): void;
}

/**
 * The state of one reliable connection: both halves of the sequencing, liveness and restore state,
 * and its timers. It outlives inner connections: a re-opened inner connection resumes it.
 */
export class Link {
  readonly send: SendBuffer;
  readonly recv: ReceiveBuffer;
  /** What every string data frame of this connection starts with (frameCodec.dataHeader). */
  readonly dataHeader: string;
  /** `open`: working. `restoring`: broken (inner connection lost or peer silent), trying to resume. */
  state: 'open' | 'restoring' = 'open';
  /** The inner connection is open (frames can be handed to it). */
  innerUp = true;
  /** An inner openConnection is under way. */
  reopening = false;
  reconnectDelayMs: number;
  /** When a valid frame of this connection last arrived (performance.now() ms). */
  lastHeard = performance.now();
  /** In-order messages delivered and not yet acknowledged. */
  unacked = 0;
  /** An acknowledgement is scheduled for the end of this turn. */
  ackScheduled = false;
  /** Messages accepted by `send` wait for a pump at the end of this turn. */
  pumpScheduled = false;
  /** Acknowledgements repeated since a data frame last arrived, while a gap is held. */
  ackRepeats = 0;
  /** `sendAcknowledged` promises by sequence number, in order. */
  private readonly waiters = new Map<number, Deferred<void>>();
  /** Why the link ended, once it did. */
  private closedWith: Error | null = null;
  readonly retransmitTimer: Timer;
  readonly ackTimer: Timer;
  /** Repeats the acknowledgement while a gap is held, in case it was lost. */
  readonly repeatAckTimer: Timer;
  readonly heartbeatTimer: Timer;
  readonly restoreTimer: Timer;
  readonly reconnectTimer: Timer;

  constructor(
    readonly peer: string,
    readonly tag: number,
    readonly peerSession: string,
    peerWindow: number,
    options: ResolvedOptions,
    handlers: LinkHandlers,
    /** The peer session's datagram replay window, shared by its links (Datagrams.windowFor). */
    readonly replay: ReplayWindow,
  ) {
    this.send = new SendBuffer(
      Math.min(options.sendWindow, peerWindow),
      new RttEstimator(options.initialRtoMs, options.minRtoMs, options.maxRtoMs, options.ackDelayMs),
    );
    this.recv = new ReceiveBuffer(options.sendWindow);
    this.dataHeader = dataHeader(tag);
    this.reconnectDelayMs = options.reconnectBaseMs;
    this.retransmitTimer = new Timer(() => handlers.retransmit(this));
    this.ackTimer = new Timer(() => handlers.ack(this));
    this.repeatAckTimer = new Timer(() => handlers.repeatAck(this));
    this.heartbeatTimer = new Timer(() => handlers.heartbeat(this));
    this.restoreTimer = new Timer(() => handlers.restoreExpired(this));
    this.reconnectTimer = new Timer(() => handlers.reopen(this));
  }

  /** Ends the link: timers stopped, buffers dropped, `sendAcknowledged` promises rejected with `error`. */
  close(error: Error): void {
    this.closedWith = error;
    const timers = [this.retransmitTimer, this.ackTimer, this.repeatAckTimer, this.heartbeatTimer, this.restoreTimer, this.reconnectTimer];
    for (const timer of timers) timer.clear();
    this.send.clear();
    this.recv.clear();
    const waiters = [...this.waiters.values()];
    this.waiters.clear();
    for (const waiter of waiters) waiter.reject(error);
  }

  /** A `sendAcknowledged` promise for message `seq`; rejected at once when the link already ended. */
  waitFor(seq: number): Promise<void> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const waiter = deferred<void>();
    this.waiters.set(seq, waiter);
    return waiter.promise;
  }

  /** Resolves the `sendAcknowledged` promises of everything the peer delivered. */
  settleWaiters(): void {
    for (const [seq, waiter] of this.waiters) {
      if (seq > this.send.cumAcked) break;
      this.waiters.delete(seq);
      waiter.resolve();
    }
  }
}
