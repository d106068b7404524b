import { VnfError, createLogger } from '@vnf/core';
import { BODY_OVERHEAD, decodeMessage } from './codec';
import { FrameType, parseFrame, protocolError } from './frames';
import type { MarshallerConfig } from './options';

const log = createLogger('marshaller-hub');

/** Ids of recently dropped messages whose remaining chunks are ignored without a further error. */
const REMEMBERED_DROPS = 64;

export interface ReassemblerHost {
  readonly peer: string;
  readonly config: MarshallerConfig;
  deliver(message: unknown): void;
  onError(error: VnfError): void;
}

/** strictOrder: a message's place in the delivery queue, filled when it completes. */
interface Slot {
  done: boolean;
  message?: unknown;
}

interface Transfer {
  readonly id: number;
  readonly buffer: Uint8Array;
  received: number;
  lastActivity: number;
  timer: ReturnType<typeof setTimeout>;
  readonly slot: Slot | null;
}

/**
 * The incoming side of one connection: reassembles multi-frame messages into one buffer of the announced size
 * (bounded by maxMessageSize), decodes completed messages and delivers them: at once by default, in send
 * order with strictOrder. Every failure drops the message concerned and is reported; none throws.
 */
export class Reassembler {
  private readonly transfers = new Map<number, Transfer>();
  private readonly order: Slot[] = [];
  private readonly dropped: number[] = [];
  private closed = false;

  constructor(private readonly host: ReassemblerHost) {}

  receive(payload: unknown): void {
    if (this.closed) return;
    try {
      const frame = parseFrame(payload);
      switch (frame.type) {
        case FrameType.SINGLE:
          this.checkAnnounced(frame.data.byteLength);
          this.complete(this.host.config.strictOrder && this.order.length > 0 ? this.newSlot() : null, frame.data);
          break;
        case FrameType.START:
          this.start(frame.id, frame.total, frame.data);
          break;
        case FrameType.CHUNK:
          this.chunk(frame.id, frame.data);
          break;
      }
    } catch (err) {
      this.host.onError(VnfError.is(err) ? err : new VnfError('INTERNAL', `MarshallerHub failed on a frame: ${String(err)}`, { cause: err }));
    }
  }

  /** Drops every partial and held message and clears the timers; returns how many messages were discarded. */
  close(): number {
    this.closed = true;
    let discarded = 0;
    for (const transfer of this.transfers.values()) {
      clearTimeout(transfer.timer);
      if (!transfer.slot) discarded++;
    }
    discarded += this.order.length;
    this.transfers.clear();
    this.order.length = 0;
    return discarded;
  }

  private start(id: number, total: number, data: Uint8Array): void {
    const { reassemblyTimeoutMs, maxMessageSize } = this.host.config;
    const previous = this.transfers.get(id);
    if (previous) this.discard(previous, protocolError(`a second START for message ${id} while it was in transfer`));
    // The rest of a rejected message is ignored quietly: one error per message, not one per chunk.
    if (total > maxMessageSize + BODY_OVERHEAD || data.byteLength > total) this.remember(id);
    this.checkAnnounced(total);
    if (data.byteLength > total) throw protocolError(`a START frame carrying more bytes than the ${total} it announced`);
    const buffer = new Uint8Array(total);
    buffer.set(data);
    if (data.byteLength === total) {
      this.complete(this.host.config.strictOrder ? this.newSlot() : null, buffer);
      return;
    }
    const transfer: Transfer = {
      id,
      buffer,
      received: data.byteLength,
      lastActivity: Date.now(),
      timer: setTimeout(() => this.checkSilence(transfer), reassemblyTimeoutMs),
      slot: this.host.config.strictOrder ? this.newSlot() : null,
    };
    this.transfers.set(id, transfer);
  }

  /** Bounds memory: a message is never bigger than maxMessageSize, whatever the peer announces. */
  private checkAnnounced(bodySize: number): void {
    const { maxMessageSize } = this.host.config;
    if (bodySize <= maxMessageSize + BODY_OVERHEAD) return;
    const size = bodySize - BODY_OVERHEAD;
    throw new VnfError(
      'TOO_LARGE',
      `${this.host.peer} sent a message of ${size} bytes, over this MarshallerHub's maxMessageSize of ${maxMessageSize} ` +
        'bytes; it was dropped. Give both sides the same maxMessageSize.',
      { details: { peer: this.host.peer, size, limit: maxMessageSize } },
    );
  }

  private chunk(id: number, data: Uint8Array): void {
    const transfer = this.transfers.get(id);
    if (!transfer) {
      if (this.dropped.includes(id)) return;
      throw protocolError(`a CHUNK frame of message ${id}, which is not in transfer`);
    }
    if (transfer.received + data.byteLength > transfer.buffer.byteLength) {
      this.discard(transfer, protocolError(`more bytes for message ${id} than the ${transfer.buffer.byteLength} it announced`));
      return;
    }
    transfer.buffer.set(data, transfer.received);
    transfer.received += data.byteLength;
    transfer.lastActivity = Date.now();
    if (transfer.received < transfer.buffer.byteLength) return;
    clearTimeout(transfer.timer);
    this.transfers.delete(id);
    this.complete(transfer.slot, transfer.buffer);
  }

  private complete(slot: Slot | null, body: Uint8Array): void {
    let message: unknown;
    try {
      message = decodeMessage(body);
    } catch (err) {
      if (slot) this.removeSlot(slot);
      throw err;
    }
    if (!slot) {
      this.host.deliver(message);
      return;
    }
    slot.done = true;
    slot.message = message;
    this.flush();
  }

  /** strictOrder: delivers every completed message at the head of the queue. */
  private flush(): void {
    while (!this.closed && this.order.length > 0 && this.order[0].done) {
      const slot = this.order.shift() as Slot;
      this.host.deliver(slot.message);
    }
  }

  private checkSilence(transfer: Transfer): void {
    if (this.closed || this.transfers.get(transfer.id) !== transfer) return;
    const { reassemblyTimeoutMs } = this.host.config;
    const silent = Date.now() - transfer.lastActivity;
    if (silent < reassemblyTimeoutMs) {
      transfer.timer = setTimeout(() => this.checkSilence(transfer), reassemblyTimeoutMs - silent);
      return;
    }
    this.discard(
      transfer,
      new VnfError(
        'TIMEOUT',
        `A message from ${this.host.peer} stalled at ${transfer.received} of ${transfer.buffer.byteLength} bytes for ` +
          `${reassemblyTimeoutMs} ms and was discarded. Raise reassemblyTimeoutMs if the link is this slow.`,
        { details: { peer: this.host.peer, received: transfer.received, size: transfer.buffer.byteLength } },
      ),
    );
  }

  private discard(transfer: Transfer, error: VnfError): void {
    clearTimeout(transfer.timer);
    this.transfers.delete(transfer.id);
    this.remember(transfer.id);
    log('discarded message %d from %s: %s', transfer.id, this.host.peer, error.message);
    this.host.onError(error);
    if (transfer.slot) this.removeSlot(transfer.slot);
  }

  private newSlot(): Slot {
    const slot: Slot = { done: false };
    this.order.push(slot);
    return slot;
  }

  private removeSlot(slot: Slot): void {
    const index = this.order.indexOf(slot);
    if (index >= 0) this.order.splice(index, 1);
    this.flush();
  }

  private remember(id: number): void {
    this.dropped.push(id);
    if (this.dropped.length > REMEMBERED_DROPS) this.dropped.shift();
  }
}
