import { VnfError, callUserListener, type ErrorCode } from '@vnf/core';
import { EventEmitter } from 'eventemitter3';
import { collectBlob, collectBytes } from './collect';
import { encodeControl, type ControlFrame } from './frames';
import { createSha256, proof, randomBytes, sameProof, type IncrementalHash } from './hash';
import { toHex } from './frames';
import type { TransferEvents, TransferMeta, TransferProgress, TransferResult } from './types';

/** Frames held ahead of a gap, at most (with the credit, it bounds their bytes to one window). */
export const MAX_EARLY_FRAMES = 1024;
/** A gap that stays is asked for again after the probe interval, doubled after each ask up to this factor. */
const MAX_PROBE_BACKOFF = 16;

/** What an incoming transfer needs of its PeerStreams. */
export interface ReceiverHost {
  readonly windowBytes: number;
  readonly resumeTimeoutMs: number;
  readonly progressIntervalMs: number;
  /** Sends a control frame when connected to `peer` (one lost with its connection is re-said by the resume). */
  control(peer: string, frame: string): void;
  /** The transfer ended: `code` null when it completed, else the code the sender should hear on a resume. */
  finished(transfer: IncomingTransfer, code: string | null, reason: string): void;
}

type Phase = 'open' | 'suspended' | 'resuming' | 'finished';

/**
 * One stream from a peer (the `transfer` event of PeerStreams): its metadata before the first byte, the bytes as a
 * `ReadableStream` that closes only once every byte arrived with a matching SHA-256 (a mismatch errors it with
 * INTEGRITY). It grants the sender credit as the reader reads, so what is queued unread stays within `windowBytes`.
 */
export class IncomingTransfer extends EventEmitter<TransferEvents> {
  readonly meta: TransferMeta;
  /** The bytes, in order. Treat them as unverified until the stream closes: it errors instead if the hash differs. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Resolves once every byte arrived and the hash matched; rejects a VnfError (CANCELLED, INTEGRITY, UNAVAILABLE, ...). */
  readonly done: Promise<TransferResult>;
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  private readonly hash: IncrementalHash = createSha256();
  private readonly ackEvery: number;
  private phase: Phase = 'open';
  private got = 0;
  /** The limit last granted, and `got` as last told. */
  private granted = 0;
  private toldGot = 0;
  /** Frames that arrived ahead of a gap, by offset (within the credit granted). */
  private readonly early = new Map<number, Uint8Array>();
  /** `got` at the last probe, and how many probe intervals a gap may stay before it is asked for again. */
  private probedAt = 0;
  private backoff = 1;
  private end: { size: number; sha256: string } | null = null;
  private nonce = '';
  private resumeGot = 0;
  private resumeTimer: ReturnType<typeof setTimeout> | null = null;
  private lastProgressAt = 0;
  private lastDataAt = Date.now();
  private reported = 0;
  private reportedOnce = false;
  private resolve!: (result: TransferResult) => void;
  private reject!: (error: VnfError) => void;

  /** Not for applications: transfers come from the `transfer` event of PeerStreams. */
  constructor(
    private readonly host: ReceiverHost,
    meta: TransferMeta,
    private readonly secret: string,
    ack: number | null,
  ) {
    super();
    this.meta = meta;
    this.ackEvery = Math.max(1, Math.min(Math.floor(host.windowBytes / 4), ack ?? Infinity));
    this.done = new Promise<TransferResult>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.done.catch(() => undefined);
    this.cancel = this.cancel.bind(this);
    this.readable = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.controller = controller;
        },
        pull: () => this.credit(false),
        cancel: (reason) => this.cancel(reason === undefined ? 'the reader cancelled the stream' : String(reason)),
      },
      { highWaterMark: host.windowBytes, size: (chunk) => chunk.byteLength },
    );
  }

  get from(): string {
    return this.meta.from;
  }

  get total(): number | null {
    return this.meta.size;
  }

  /** Bytes received in order so far. */
  get transferred(): number {
    return this.got;
  }

  get finished(): boolean {
    return this.phase === 'finished';
  }

  /** Stops the transfer: the sender's `done` rejects CANCELLED, and so does this stream. Idempotent. */
  cancel(reason = 'cancelled by the receiver'): void {
    if (this.phase === 'finished') return;
    const text = String(reason).slice(0, 1024);
    this.host.control(this.meta.from, encodeControl({ t: 'cancel', id: this.meta.id, code: 'CANCELLED', reason: text }));
    this.fail(new VnfError('CANCELLED', `The transfer "${this.meta.name}" from ${this.meta.from} was cancelled: ${text}.`, { details: { id: this.meta.id, by: 'receiver' } }));
  }

  /** Reads the whole stream into one Uint8Array (INVALID_ARGUMENT past `maxBytes`, default 256 MiB). */
  toUint8Array(options: { maxBytes?: number } = {}): Promise<Uint8Array> {
    return collectBytes(this.readable, options);
  }

  /** Reads the whole stream into a Blob of the sender's type (INVALID_ARGUMENT past `maxBytes`, default no limit). */
  toBlob(options: { maxBytes?: number } = {}): Promise<Blob> {
    return collectBlob(this.readable, this.meta.type, options);
  }

  // ---- from PeerStreams ----------------------------------------------------------------------

  /** Grants the first window. */
  start(): void {
    this.credit(true);
  }

  onData(offset: number, bytes: Uint8Array): void {
    if (this.phase !== 'open') return;
    const end = offset + bytes.byteLength;
    this.lastDataAt = Date.now();
    if (end <= this.got) return; // sent again after a rewind, and already here
    if (end > this.granted) return this.protocolError(`sent up to ${end} bytes, past the ${this.granted} granted`);
    const size = this.end?.size ?? this.meta.size;
    if (size !== null && end > size) return this.integrityError(`more bytes than its size ${size}`);
    if (offset > this.got) return this.hold(offset, bytes);
    this.accept(offset, bytes);
    this.drainEarly();
    this.progress(false);
    if (this.end && this.got === this.end.size) this.complete();
    else this.credit(false);
  }

  /**
   * A frame ahead of a gap: a layer beneath reordered (MarshallerHub lets small messages pass large ones) or lost
   * frames. Held until the gap fills, if it overlaps nothing held: so what is held never exceeds the credit granted
   * (one window), in at most MAX_EARLY_FRAMES frames. Anything else is dropped; the probe asks for what stays missing.
   */
  private hold(offset: number, bytes: Uint8Array): void {
    if (this.early.size >= MAX_EARLY_FRAMES || this.early.has(offset)) return;
    const end = offset + bytes.byteLength;
    for (const [at, held] of this.early) if (at < end && offset < at + held.byteLength) return;
    this.early.set(offset, bytes);
  }

  /** Delivers what was held ahead of the gap just filled. */
  private drainEarly(): void {
    while (this.early.size > 0) {
      const next = this.early.get(this.got);
      if (next) {
        this.early.delete(this.got);
        this.accept(this.got, next);
        continue;
      }
      // Frames sent again after a rewind may be cut elsewhere: one pass finds an overlap, and forgets what is behind.
      let overlapping: number | null = null;
      for (const [at, held] of this.early) {
        if (at + held.byteLength <= this.got) this.early.delete(at);
        else if (at < this.got) overlapping = at;
      }
      if (overlapping === null) return;
      const held = this.early.get(overlapping)!;
      this.early.delete(overlapping);
      this.accept(overlapping, held);
    }
  }

  /** Takes the bytes from `got` on (a frame sent again after a rewind may start before it). */
  private accept(offset: number, bytes: Uint8Array): void {
    const fresh = offset < this.got ? bytes.subarray(this.got - offset) : bytes;
    this.hash.update(fresh);
    this.got += fresh.byteLength;
    this.controller.enqueue(fresh);
  }

  onControl(frame: ControlFrame): void {
    if (this.phase === 'finished') return;
    switch (frame.t) {
      case 'end':
        if (this.meta.size !== null && frame.size !== this.meta.size) return this.integrityError(`an end at ${frame.size} bytes, not at its size ${this.meta.size}`);
        if (frame.size < this.got) return this.integrityError(`an end at ${frame.size} bytes after ${this.got} arrived`);
        this.end = { size: frame.size, sha256: frame.sha256 };
        // Short of the end: the last frames are still on their way (an end may pass them) or lost (the probe asks).
        if (this.phase === 'open' && this.got === frame.size) this.complete();
        return;
      case 'cancel': {
        const code = (['INTEGRITY', 'PROTOCOL', 'INVALID_PAYLOAD', 'FORBIDDEN', 'UNAVAILABLE'].includes(frame.code) ? frame.code : 'CANCELLED') as ErrorCode;
        return this.fail(new VnfError(code, `${this.meta.from} ended the transfer "${this.meta.name}": ${frame.reason}`, { details: { id: this.meta.id, by: 'sender' } }));
      }
      case 'resume':
        return this.onResume(frame.nonce);
      case 'go':
        return this.onGo(frame.mac);
      case 'ping':
        return this.onPing();
      default:
        return;
    }
  }

  /**
   * Called every second or so: with credit out and nothing arrived since, a frame may have gone missing beneath (a
   * credit, the last data, the end). Say again what we have; a sender that sent everything answers with its end,
   * and an end short of what arrived asks for the rest. A slow link only costs this one small frame.
   */
  probe(now: number, idleMs: number): void {
    if (this.got !== this.probedAt) {
      this.probedAt = this.got;
      this.backoff = 1;
    }
    if (this.phase !== 'open' || now - this.lastDataAt < idleMs * this.backoff) return;
    this.lastDataAt = now;
    if (this.early.size > 0 || (this.end && this.got < this.end.size)) {
      // A gap that stayed a whole probe interval: frames were lost beneath. Everything from `got` again, and if that
      // does not fill it either (a link slower than a frame a second), ask again only after twice as long.
      this.early.clear();
      this.askAgain();
      this.backoff = Math.min(this.backoff * 2, MAX_PROBE_BACKOFF);
    } else if (this.granted > this.got) {
      this.credit(true); // waiting for the sender, not the reader: a credit or the tail may be lost
    }
  }

  /** The sender has heard nothing for a while (a `ping`): say where we are. */
  onPing(): void {
    if (this.phase === 'open') this.credit(true);
    // Suspended here while the sender thinks the connection is fine (our loss came after its resume), or holding for a
    // resume the sender never made (someone else's): the sender resumes, proving the secret.
    else this.host.control(this.meta.from, encodeControl({ t: 'lost', id: this.meta.id }));
  }

  onLost(): void {
    if (this.phase === 'finished') return;
    if (this.host.resumeTimeoutMs === 0) {
      this.fail(new VnfError('UNAVAILABLE', `The connection to ${this.meta.from} broke during the transfer "${this.meta.name}" at ${this.got} bytes (resume is off: resumeTimeoutMs 0).`));
      return;
    }
    const first = this.resumeTimer === null;
    this.phase = 'suspended';
    this.armDeadline();
    if (first) this.guard(() => this.emit('suspended'));
  }

  /** Starts the resume deadline unless one is running (a break during a resume keeps the first). */
  private armDeadline(): void {
    if (this.resumeTimer !== null) return;
    this.resumeTimer = setTimeout(() => {
      this.resumeTimer = null;
      this.fail(
        new VnfError('UNAVAILABLE', `The transfer "${this.meta.name}" from ${this.meta.from} was not resumed within ${this.host.resumeTimeoutMs} ms of its connection breaking (at ${this.got} bytes).`, {
          details: { id: this.meta.id, bytes: this.got },
        }),
      );
    }, this.host.resumeTimeoutMs);
  }

  destroy(error: VnfError): void {
    this.fail(error);
  }

  // ---- internals -----------------------------------------------------------------------------

  private onResume(senderNonce: string): void {
    // Only the holder of the secret can finish this: the answer proves we know it, and `go` must prove it back. A
    // resume while open (the sender saw a break we have not seen yet, or someone holding its eva) stops the data
    // until a proven `go`, within the same deadline as a break.
    this.armDeadline();
    this.phase = 'resuming';
    this.nonce = toHex(randomBytes(32));
    this.resumeGot = this.got;
    this.host.control(
      this.meta.from,
      encodeControl({ t: 'resumeAt', id: this.meta.id, got: this.got, nonce: this.nonce, mac: proof(this.secret, 'r', this.meta.id, senderNonce, this.nonce, this.got) }),
    );
  }

  private onGo(mac: string): void {
    // 'suspended' too: the old connection's loss may be reported after the new one's resume was answered.
    if (this.nonce === '' || (this.phase !== 'resuming' && this.phase !== 'suspended')) return;
    if (!sameProof(mac, proof(this.secret, 's', this.meta.id, this.nonce, this.resumeGot))) {
      // Not the sender: whoever holds its eva now cannot continue; the real one still may, until the deadline.
      this.phase = 'suspended';
      return;
    }
    if (this.resumeTimer) clearTimeout(this.resumeTimer);
    this.resumeTimer = null;
    this.phase = 'open';
    this.nonce = '';
    this.early.clear();
    this.lastDataAt = Date.now();
    this.guard(() => this.emit('resumed', { bytes: this.got, total: this.total }));
    this.credit(true);
  }

  /** Grants credit up to what was read plus the window, and confirms what arrived, each at most every ackEvery bytes. */
  private credit(force: boolean): void {
    if (this.phase !== 'open') return;
    const queued = Math.max(0, this.host.windowBytes - (this.controller.desiredSize ?? 0));
    const limit = this.got - Math.min(queued, this.got) + this.host.windowBytes;
    if (!force && limit - this.granted < this.ackEvery && this.got - this.toldGot < this.ackEvery) return;
    if (limit > this.granted) this.granted = limit;
    this.toldGot = this.got;
    this.host.control(this.meta.from, encodeControl({ t: 'credit', id: this.meta.id, got: this.got, limit: this.granted }));
  }

  private askAgain(): void {
    this.host.control(this.meta.from, encodeControl({ t: 'credit', id: this.meta.id, got: this.got, limit: this.granted, rewind: true }));
  }

  private complete(): void {
    const sha256 = this.hash.digest();
    if (!sameProof(sha256, this.end!.sha256)) {
      return this.integrityError(`bytes whose SHA-256 is ${sha256}, not the ${this.end!.sha256} it announced`);
    }
    this.host.control(this.meta.from, encodeControl({ t: 'fin', id: this.meta.id }));
    this.progress(true);
    const result: TransferResult = { bytes: this.got, sha256 };
    this.settle(null, '');
    this.controller.close();
    this.resolve(result);
    this.guard(() => this.emit('done', result));
  }

  private integrityError(what: string): void {
    this.host.control(this.meta.from, encodeControl({ t: 'cancel', id: this.meta.id, code: 'INTEGRITY', reason: `the receiver got ${what}` }));
    this.fail(
      new VnfError('INTEGRITY', `The transfer "${this.meta.name}" from ${this.meta.from} is corrupt: it sent ${what}. Nothing of it is good; send it again.`, {
        details: { id: this.meta.id },
      }),
    );
  }

  private protocolError(what: string): void {
    this.host.control(this.meta.from, encodeControl({ t: 'cancel', id: this.meta.id, code: 'PROTOCOL', reason: `the sender ${what}` }));
    this.fail(new VnfError('PROTOCOL', `${this.meta.from} broke the streams protocol in "${this.meta.name}": it ${what}.`, { details: { id: this.meta.id } }));
  }

  private progress(last: boolean): void {
    if (this.reportedOnce && this.got === this.reported) return;
    const now = Date.now();
    if (!last && now - this.lastProgressAt < this.host.progressIntervalMs) return;
    this.lastProgressAt = now;
    this.reported = this.got;
    this.reportedOnce = true;
    const progress: TransferProgress = { bytes: this.got, total: this.total };
    this.guard(() => this.emit('progress', progress));
  }

  private fail(error: VnfError): void {
    if (this.phase === 'finished') return;
    this.settle(error.code, error.message);
    try {
      this.controller.error(error);
    } catch {
      // The reader cancelled: the stream is already closed.
    }
    this.reject(error);
    if (this.listenerCount('error') > 0) this.guard(() => this.emit('error', error));
  }

  private settle(code: string | null, reason: string): void {
    this.phase = 'finished';
    if (this.resumeTimer) clearTimeout(this.resumeTimer);
    this.resumeTimer = null;
    this.early.clear();
    this.host.finished(this, code, reason);
  }

  private guard(fn: () => void): void {
    callUserListener(this, fn, `the transfer "${this.meta.name}" from ${this.meta.from}`);
  }
}
