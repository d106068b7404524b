import { VnfError, callUserListener, type ErrorCode } from '@vnf/core';
import { EventEmitter } from 'eventemitter3';
import { encodeControl, encodeData, toHex, type ControlFrame } from './frames';
import { createSha256, proof, randomBytes, sameProof, type IncrementalHash } from './hash';
import { ReplayBuffer, type ChunkSource } from './sources';
import type { TransferEvents, TransferProgress, TransferResult } from './types';

/** What an outgoing transfer needs of its PeerStreams. */
export interface SenderHost {
  readonly eva: string;
  readonly chunkSize: number;
  readonly resumeTimeoutMs: number;
  readonly resumeWindowBytes: number;
  readonly progressIntervalMs: number;
  readonly highWaterMark: number;
  /** Throws what the channel throws (NOT_CONNECTED when the connection just went). */
  send(target: string, frame: string | Uint8Array): void;
  isConnected(target: string): boolean;
  bufferedAmount(target: string): number;
  /** Resolves when connected to `target`, or rejects a VnfError with a stable code. */
  connect(target: string): Promise<void>;
  /** Sends `frame` on the next connection to `target` (a cancel made while the connection was broken). */
  tellLater(target: string, frame: string): void;
  /** A suspended transfer wants a new connection to `target`: keep trying while it waits. */
  reconnect(target: string): void;
  finished(transfer: OutgoingTransfer): void;
}

type Phase = 'connecting' | 'open' | 'suspended' | 'resuming' | 'finished';

const KNOWN_CODES = new Set<string>(['CANCELLED', 'INTEGRITY', 'BUFFER_FULL', 'UNAVAILABLE', 'PROTOCOL', 'FORBIDDEN', 'TOO_LARGE', 'INVALID_PAYLOAD']);

/**
 * One stream to one peer (`PeerStreams.send`). It sends what the receiver's credit allows, pauses on the channel's
 * `drain` past its high-water mark, and after a broken connection resumes from the receiver's last byte. `done`
 * resolves once the receiver has every byte and the same SHA-256.
 */
export class OutgoingTransfer extends EventEmitter<TransferEvents> {
  readonly id: string;
  readonly target: string;
  readonly name: string;
  readonly type: string;
  /** Resolves when the receiver has every byte with a matching hash; rejects a VnfError (CANCELLED, INTEGRITY, UNAVAILABLE, ...). */
  readonly done: Promise<TransferResult>;
  private readonly idBytes: Uint8Array;
  private readonly secret = toHex(randomBytes(32));
  private readonly hash: IncrementalHash = createSha256();
  private readonly replay = new ReplayBuffer();
  private phase: Phase = 'connecting';
  /** Bytes read from the source (and hashed). */
  private frontier = 0;
  private sha256: string | null = null;
  private sent = 0;
  /** The furthest offset ever sent (a rewind moves `sent` back, not this). */
  private highestSent = 0;
  private acked = 0;
  private limit = 0;
  private credited = false;
  private lastCreditGot = -1;
  private lastHeardAt = Date.now();
  private endSent = false;
  private waitingDrain = false;
  private pumping = false;
  private pumpAgain = false;
  private nonce = '';
  private resumeTimer: ReturnType<typeof setTimeout> | null = null;
  private lastProgressAt = 0;
  private reported = 0;
  private reportedOnce = false;
  private resolve!: (result: TransferResult) => void;
  private reject!: (error: VnfError) => void;

  /** Not for applications: call `PeerStreams.send`. */
  constructor(
    private readonly host: SenderHost,
    target: string,
    private readonly source: ChunkSource,
    meta: { name: string; type: string; size: number | null; header: string | null },
    signal: AbortSignal | undefined,
  ) {
    super();
    this.idBytes = randomBytes(16);
    this.id = toHex(this.idBytes);
    this.target = target;
    this.name = meta.name;
    this.type = meta.type;
    this.expectedSize = meta.size;
    this.done = new Promise<TransferResult>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // Nobody has to await it: a failure is also an `error` event.
    this.done.catch(() => undefined);
    this.cancel = this.cancel.bind(this);
    if (signal) {
      if (signal.aborted) queueMicrotask(() => this.cancel('the signal was aborted'));
      else signal.addEventListener('abort', () => this.cancel('the signal was aborted'), { once: true });
    }
    // A source that cannot seek keeps what is unconfirmed: the receiver confirms at least every quarter of that window.
    const ack = source.seekable ? null : Math.floor(host.resumeWindowBytes / 4);
    const open: ControlFrame = { t: 'open', id: this.id, name: meta.name, type: meta.type, size: meta.size, header: meta.header, secret: this.secret, ack };
    this.openFrame = encodeControl(open);
    host.connect(target).then(
      () => {
        if (this.phase !== 'connecting') return;
        this.phase = 'open';
        if (!host.isConnected(target)) return this.onLost();
        this.control(this.openFrame);
      },
      (err: VnfError) => this.fail(err),
    );
  }

  private readonly expectedSize: number | null;
  private readonly openFrame: string;

  /** The size, when known: given, or found at the source's end. */
  get total(): number | null {
    return this.sha256 !== null ? this.frontier : this.expectedSize;
  }

  /** Bytes the receiver confirmed it holds. */
  get transferred(): number {
    return this.acked;
  }

  get finished(): boolean {
    return this.phase === 'finished';
  }

  /** Read after an await, where the compiler would keep the phase it saw before it. */
  private isOpen(): boolean {
    return this.phase === 'open';
  }

  /** Stops the transfer: the receiver's stream errors with CANCELLED; `done` rejects CANCELLED. Idempotent. */
  cancel(reason = 'cancelled by the sender'): void {
    if (this.phase === 'finished') return;
    const text = String(reason).slice(0, 1024);
    const frame = encodeControl({ t: 'cancel', id: this.id, code: 'CANCELLED', reason: text });
    // While the connection is broken the receiver hears it if a connection comes back (else its resume times out).
    if (this.host.isConnected(this.target)) this.control(frame);
    else this.host.tellLater(this.target, frame);
    this.fail(new VnfError('CANCELLED', `The transfer "${this.name}" to ${this.target} was cancelled: ${text}.`, { details: { id: this.id, by: 'sender' } }));
  }

  // ---- from PeerStreams ----------------------------------------------------------------------

  onControl(frame: ControlFrame): void {
    if (this.phase === 'finished') return;
    this.lastHeardAt = Date.now();
    switch (frame.t) {
      case 'credit':
        return this.onCredit(frame.got, frame.limit, frame.rewind === true);
      case 'fin':
        return this.onFin();
      case 'cancel': {
        const code = (KNOWN_CODES.has(frame.code) ? frame.code : 'CANCELLED') as ErrorCode;
        return this.fail(new VnfError(code, `${this.target} ended the transfer "${this.name}": ${frame.reason}`, { details: { id: this.id, by: 'receiver' } }));
      }
      case 'resumeAt':
        return this.onResumeAt(frame.got, frame.nonce, frame.mac);
      case 'gone':
        return this.onGone();
      case 'lost':
        // The receiver lost a connection we still have (its loss came late): resume on this one.
        if (this.phase !== 'open') return;
        this.onLost();
        if (this.host.isConnected(this.target)) this.onConnected();
        return;
      default:
        return;
    }
  }

  onDrain(): void {
    if (!this.waitingDrain) return;
    this.waitingDrain = false;
    this.kick();
  }

  /** The connection to the target was lost. */
  onLost(): void {
    if (this.phase === 'finished' || this.phase === 'suspended') return;
    if (this.phase === 'connecting') return; // connect() settles it
    if (this.phase === 'resuming') {
      // Broken again before the resume was answered: the first deadline still holds.
      this.phase = 'suspended';
      this.host.reconnect(this.target);
      return;
    }
    if (this.host.resumeTimeoutMs === 0) {
      this.fail(new VnfError('UNAVAILABLE', `The connection to ${this.target} broke during the transfer "${this.name}" at ${this.acked} bytes (resume is off: resumeTimeoutMs 0).`));
      return;
    }
    this.phase = 'suspended';
    this.waitingDrain = false;
    this.resumeTimer = setTimeout(() => {
      this.resumeTimer = null;
      this.fail(
        new VnfError('UNAVAILABLE', `The transfer "${this.name}" to ${this.target} was not resumed within ${this.host.resumeTimeoutMs} ms of its connection breaking (at ${this.acked} bytes).`, {
          details: { id: this.id, bytes: this.acked },
        }),
      );
    }, this.host.resumeTimeoutMs);
    this.guard(() => this.emit('suspended'));
    this.host.reconnect(this.target);
  }

  /** A connection to the target is open (again): ask to resume. */
  onConnected(): void {
    if (this.phase !== 'suspended') return;
    this.phase = 'resuming';
    this.nonce = toHex(randomBytes(32));
    this.control(encodeControl({ t: 'resume', id: this.id, nonce: this.nonce }));
  }

  /**
   * Called every second or so: a transfer that heard nothing from its receiver for `idleMs` asks where it is — a lost
   * credit, `fin` or `cancel`, or a receiver that lost the connection without this side noticing.
   */
  probe(now: number, idleMs: number): void {
    if (this.phase !== 'open' || !this.credited || now - this.lastHeardAt < idleMs) return;
    this.lastHeardAt = now;
    this.control(encodeControl({ t: 'ping', id: this.id }));
  }

  /** The PeerStreams closed or its endpoint went. */
  destroy(error: VnfError): void {
    this.fail(error);
  }

  // ---- internals -----------------------------------------------------------------------------

  private onCredit(got: number, limit: number, rewind: boolean): void {
    if (this.phase !== 'open') return;
    this.credited = true;
    if (got > this.acked) {
      if (got > this.highestSent) return this.protocolError(`confirmed ${got} bytes of ${this.highestSent} sent`);
      this.acked = got;
      this.replay.release(got);
      this.progress(false);
    }
    if (limit > this.limit) this.limit = limit;
    // The same confirmation again, after everything was sent: the receiver is probing for a tail lost beneath.
    if (got === this.lastCreditGot && this.sha256 !== null && got < this.frontier) this.endSent = false;
    this.lastCreditGot = got;
    if (rewind) {
      // Frames went missing beneath (a channel broke under a relay fallback): send again from what it has, and the end.
      this.sent = Math.min(this.sent, got);
      this.endSent = false;
    } else if (got > this.sent) {
      // It has what a rewind asked for already (the frames were late, not lost): go on from there.
      this.sent = got;
    }
    this.kick();
  }

  private onFin(): void {
    if (this.sha256 === null || this.highestSent !== this.frontier) return this.protocolError('confirmed the end before it was sent');
    this.acked = this.frontier;
    this.progress(true);
    const result: TransferResult = { bytes: this.frontier, sha256: this.sha256 };
    this.finish();
    this.resolve(result);
    this.guard(() => this.emit('done', result));
  }

  private onResumeAt(got: number, nonce: string, mac: string): void {
    if (this.phase !== 'resuming') return;
    if (!sameProof(mac, proof(this.secret, 'r', this.id, this.nonce, nonce, got))) {
      this.control(encodeControl({ t: 'cancel', id: this.id, code: 'FORBIDDEN', reason: 'the resume was not proven' }));
      return this.fail(
        new VnfError('FORBIDDEN', `${this.target} answered the resume of "${this.name}" without proving it is its receiver: someone else holds that eva now. The transfer stops.`, {
          details: { id: this.id },
        }),
      );
    }
    if (got < this.acked || got > this.frontier || (!this.source.seekable && got < this.replay.start)) {
      return this.protocolError(`asked to resume from ${got} bytes (confirmed ${this.acked}, read ${this.frontier})`);
    }
    this.clearResumeTimer();
    this.control(encodeControl({ t: 'go', id: this.id, mac: proof(this.secret, 's', this.id, nonce, got) }));
    this.phase = 'open';
    this.acked = got;
    this.replay.release(got);
    this.sent = got;
    this.limit = got;
    this.endSent = false;
    this.guard(() => this.emit('resumed', { bytes: got, total: this.total }));
    this.kick();
  }

  private onGone(): void {
    if (this.phase !== 'resuming') return;
    if (!this.credited) {
      // The open never reached it: start over on this connection.
      this.clearResumeTimer();
      this.phase = 'open';
      this.control(this.openFrame);
      return;
    }
    this.fail(new VnfError('UNAVAILABLE', `${this.target} no longer has the transfer "${this.name}" (it restarted, or waited no longer), at ${this.acked} bytes.`, { details: { id: this.id } }));
  }

  private kick(): void {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    void this.pump();
  }

  /** Sends what the credit, the resume window and the channel's buffer allow; one pump at a time. */
  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        while (this.phase === 'open' && !this.waitingDrain) {
          if (this.sha256 !== null && this.sent === this.frontier) {
            if (!this.endSent) {
              this.endSent = true;
              this.control(encodeControl({ t: 'end', id: this.id, size: this.frontier, sha256: this.sha256 }));
            }
            break;
          }
          const max = Math.min(this.host.chunkSize, this.limit - this.sent);
          if (max <= 0) break;
          const fresh = this.sent === this.frontier;
          // What a source that cannot seek gave is kept until confirmed, so it is read no further than the window.
          if (fresh && !this.source.seekable && this.replay.heldBytes + max > this.host.resumeWindowBytes) break;
          const offset = this.sent;
          const chunk = await this.chunkAt(offset, max, fresh);
          if (this.finished) return;
          if (chunk === null) {
            if (!fresh) return this.protocolError(`(internal) lost bytes at ${offset}`);
            if (this.sha256 === null) this.sourceEnded();
            continue;
          }
          // A rewind, a break or a resume while the source was read: that chunk waits for the next round.
          if (!this.isOpen() || this.sent !== offset) continue;
          try {
            this.host.send(this.target, encodeData(this.idBytes, offset, chunk));
          } catch (err) {
            if (VnfError.is(err, 'NOT_CONNECTED')) break; // connectionLost follows
            throw err;
          }
          this.sent = offset + chunk.byteLength;
          if (this.sent > this.highestSent) this.highestSent = this.sent;
          if (this.host.bufferedAmount(this.target) > this.host.highWaterMark) this.waitingDrain = true;
        }
      } while (this.pumpAgain && this.phase !== 'finished');
    } catch (err) {
      const error = VnfError.is(err) ? err : new VnfError('INTERNAL', `Reading the source of "${this.name}" failed: ${String(err)}`, { cause: err });
      this.control(encodeControl({ t: 'cancel', id: this.id, code: error.code === 'INVALID_PAYLOAD' ? 'INVALID_PAYLOAD' : 'CANCELLED', reason: `the sender's source failed: ${error.message}` }));
      this.fail(error);
    } finally {
      this.pumping = false;
    }
  }

  /** The bytes at `offset`: read fresh (and hashed), or again from a seekable source or the replay buffer. */
  private async chunkAt(offset: number, max: number, fresh: boolean): Promise<Uint8Array | null> {
    if (!fresh) {
      if (!this.source.seekable) return this.replay.slice(offset, Math.min(max, this.replay.end - offset));
      return this.source.read(offset, Math.min(max, this.frontier - offset));
    }
    const chunk = await this.source.read(offset, max);
    if (this.phase === 'finished' || chunk === null) return chunk;
    this.hash.update(chunk);
    if (!this.source.seekable) this.replay.push(chunk);
    this.frontier += chunk.byteLength;
    if (this.expectedSize !== null && this.frontier > this.expectedSize) {
      throw new VnfError('INTEGRITY', `The source of "${this.name}" is longer than its declared size ${this.expectedSize}.`);
    }
    return chunk;
  }

  private sourceEnded(): void {
    if (this.expectedSize !== null && this.frontier !== this.expectedSize) {
      throw new VnfError('INTEGRITY', `The source of "${this.name}" ended at ${this.frontier} bytes, not at its declared size ${this.expectedSize}.`);
    }
    this.sha256 = this.hash.digest();
    this.source.close();
  }

  /** Emits progress at most every progressIntervalMs; the last one (the full size) always, once. */
  private progress(last: boolean): void {
    if (this.reportedOnce && this.acked === this.reported) return;
    const now = Date.now();
    if (!last && now - this.lastProgressAt < this.host.progressIntervalMs) return;
    this.lastProgressAt = now;
    this.reported = this.acked;
    this.reportedOnce = true;
    const progress: TransferProgress = { bytes: this.acked, total: this.total };
    this.guard(() => this.emit('progress', progress));
  }

  private protocolError(what: string): void {
    this.control(encodeControl({ t: 'cancel', id: this.id, code: 'PROTOCOL', reason: `the receiver ${what}` }));
    this.fail(new VnfError('PROTOCOL', `${this.target} broke the streams protocol in "${this.name}": it ${what}.`, { details: { id: this.id } }));
  }

  /** Sends a control frame when connected; one lost with its connection is re-said by the resume. */
  private control(frame: string): void {
    if (!this.host.isConnected(this.target)) return;
    try {
      this.host.send(this.target, frame);
    } catch (err) {
      if (!VnfError.is(err, 'NOT_CONNECTED')) throw err;
    }
  }

  private fail(error: VnfError): void {
    if (this.phase === 'finished') return;
    this.finish();
    this.reject(error);
    if (this.listenerCount('error') > 0) this.guard(() => this.emit('error', error));
  }

  private finish(): void {
    this.phase = 'finished';
    this.clearResumeTimer();
    this.source.close();
    this.replay.clear();
    this.host.finished(this);
  }

  private clearResumeTimer(): void {
    if (this.resumeTimer) clearTimeout(this.resumeTimer);
    this.resumeTimer = null;
  }

  private guard(fn: () => void): void {
    callUserListener(this, fn, `the transfer "${this.name}" to ${this.target}`);
  }
}

