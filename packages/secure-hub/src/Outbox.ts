import { VnfError, createLogger } from '@vnf/core';
import { Kind } from './records';

const log = createLogger('secure-hub');

/** A turn's messages to one peer are sealed together once they reach this many bytes (or the inner record's limit). */
export const BATCH_BYTES = 64 * 1024;
/** Bytes each message adds inside a batch: its length. */
export const BATCH_ENTRY_HEADER = 4;

/** What the outbox needs of its endpoint. */
export interface OutboxHost {
  /** Seals `plaintext` to `peer` and hands the record beneath; throws what beneath throws (the counter taken back). */
  sealAndSend(peer: string, plaintext: Uint8Array, messages: number): void;
  /** A send to `peer` was refused because its batch is held (BUFFER_FULL): a `drain` is owed. */
  refused(peer: string): void;
  /** A held batch to `peer` left: an owed `drain` may be due. */
  moved(peer: string): void;
}

interface Batch {
  readonly peer: string;
  /** Each message's plaintext, as one record alone would carry it. */
  entries: Uint8Array[];
  bytes: number;
  /** Beneath refused it (BUFFER_FULL): it waits for beneath's drain, and new sends to the peer are refused meanwhile. */
  held: boolean;
  queued: boolean;
}

/**
 * The messages of one turn to one peer, sealed into one record at the end of the turn (`[Kind.batch]` then each
 * message's plaintext after its length; a lone message goes as it is): the AEAD's set-up is paid once per turn and
 * peer instead of once per message, as the wire hubs batch their frames. A message accepted here is never lost to
 * backpressure: if beneath refuses the record, it is kept and sent on beneath's `drain`, and sends to that peer throw
 * BUFFER_FULL at the call until then.
 */
export class Outbox {
  private readonly byPeer = new Map<string, Batch>();
  private readonly queue: Batch[] = [];
  private scheduled = false;

  constructor(
    /** The largest batch a record carries: its plaintext's bytes (a record's limit, the rekey limit) and messages. */
    private readonly maxBatchBytes: number,
    private readonly maxBatchMessages: number,
    private readonly host: OutboxHost,
  ) {}

  /** Queues one message's plaintext for `peer`; throws BUFFER_FULL while an earlier batch is held beneath. */
  add(peer: string, plaintext: Uint8Array): void {
    let batch = this.byPeer.get(peer);
    if (batch?.held) {
      this.host.refused(peer);
      throw new VnfError('BUFFER_FULL', `The send buffer toward ${peer} is full; wait for the 'drain' event (see bufferedAmount) and send again.`, {
        details: { targetEva: peer },
      });
    }
    const size = BATCH_ENTRY_HEADER + plaintext.length;
    if (batch && batch.entries.length > 0 && (1 + batch.bytes + size > this.limit || batch.entries.length >= this.maxBatchMessages)) {
      try {
        this.send(batch);
      } catch (err) {
        if (VnfError.is(err, 'BUFFER_FULL')) this.host.refused(peer);
        throw err;
      }
    }
    if (1 + size > this.limit) {
      // Too large to share a record: alone, now, so that what beneath refuses is thrown at this call.
      this.host.sealAndSend(peer, plaintext, 1);
      return;
    }
    if (!batch) {
      batch = { peer, entries: [], bytes: 0, held: false, queued: false };
      this.byPeer.set(peer, batch);
    }
    batch.entries.push(plaintext);
    batch.bytes += size;
    if (!batch.queued) {
      batch.queued = true;
      this.queue.push(batch);
    }
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  /** Bytes queued toward `peer` and not yet handed beneath. */
  bytes(peer: string): number {
    return this.byPeer.get(peer)?.bytes ?? 0;
  }

  /** Whether `peer`'s batch waits for beneath's drain. */
  isHeld(peer: string): boolean {
    return this.byPeer.get(peer)?.held === true;
  }

  /** Seals and sends every queued batch now (a held one stays held). */
  flush(): void {
    this.scheduled = false;
    while (this.queue.length > 0) {
      const batch = this.queue.shift()!;
      batch.queued = false;
      if (batch.held || batch.entries.length === 0) continue;
      try {
        this.send(batch);
      } catch (err) {
        if (!VnfError.is(err, 'BUFFER_FULL')) {
          log('%d messages to %s not sent: %s', batch.entries.length, batch.peer, String(err));
          this.drop(batch.peer);
        }
      }
    }
  }

  /** Beneath drained toward `peer`: a held batch goes again. */
  drained(peer: string): void {
    const batch = this.byPeer.get(peer);
    if (!batch?.held) return;
    batch.held = false;
    try {
      this.send(batch);
    } catch (err) {
      if (!VnfError.is(err, 'BUFFER_FULL')) this.drop(peer);
      return;
    }
    this.host.moved(peer);
  }

  /** `peer`'s connection ended: what waited for it goes with it. */
  drop(peer: string): void {
    const batch = this.byPeer.get(peer);
    if (!batch) return;
    this.byPeer.delete(peer);
    batch.entries = [];
    batch.bytes = 0;
  }

  clear(): void {
    for (const peer of [...this.byPeer.keys()]) this.drop(peer);
    this.queue.length = 0;
  }

  private get limit(): number {
    return Math.min(BATCH_BYTES, this.maxBatchBytes);
  }

  /** One record of the batch; on BUFFER_FULL beneath the batch is held and the error rethrown. */
  private send(batch: Batch): void {
    const { entries } = batch;
    let plaintext: Uint8Array;
    if (entries.length === 1) plaintext = entries[0]!;
    else {
      plaintext = new Uint8Array(1 + batch.bytes);
      plaintext[0] = Kind.batch;
      const view = new DataView(plaintext.buffer);
      let at = 1;
      for (const entry of entries) {
        view.setUint32(at, entry.length);
        plaintext.set(entry, at + BATCH_ENTRY_HEADER);
        at += BATCH_ENTRY_HEADER + entry.length;
      }
    }
    try {
      this.host.sealAndSend(batch.peer, plaintext, entries.length);
    } catch (err) {
      if (VnfError.is(err, 'BUFFER_FULL')) batch.held = true;
      throw err;
    }
    batch.entries = [];
    batch.bytes = 0;
  }
}
