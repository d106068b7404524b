import { VnfError } from '@vnf/core';

/** Direct messages to a member whose connection is not open yet wait for it, at most this many per member. */
export const MAX_QUEUED_DIRECT = 256;

/** What the queue needs of its room. */
export interface DirectQueueHost {
  connected(eva: string): boolean;
  /** Sends one frame to a member now; false when it cannot be sent (it is then dropped). */
  send(eva: string, frame: unknown): boolean;
  /** Throws what the stack throws at the call. */
  sendNow(eva: string, frame: unknown): void;
}

/**
 * `room.send` to a member the room knows before their connection opened (the registry told of it first): its frames
 * wait, in order and bounded, and leave when the connection opens; they are dropped if the member leaves first.
 */
export class DirectQueue {
  private readonly waiting = new Map<string, unknown[]>();

  constructor(
    private readonly room: string,
    private readonly host: DirectQueueHost,
  ) {}

  send(eva: string, frame: unknown): void {
    const queued = this.waiting.get(eva);
    if (!queued && this.host.connected(eva)) {
      this.host.sendNow(eva, frame);
      return;
    }
    if (queued && queued.length >= MAX_QUEUED_DIRECT) {
      throw new VnfError(
        'BUFFER_FULL',
        `${MAX_QUEUED_DIRECT} direct messages already wait for the connection to ${eva} to open; wait for the room's connection to it.`,
        { details: { room: this.room, eva } },
      );
    }
    if (queued) queued.push(frame);
    else this.waiting.set(eva, [frame]);
  }

  /** The connection to `eva` opened: what waited leaves, in order. */
  flush(eva: string): void {
    const queued = this.waiting.get(eva);
    this.waiting.delete(eva);
    for (const frame of queued ?? []) if (!this.host.send(eva, frame)) break;
  }

  drop(eva: string): void {
    this.waiting.delete(eva);
  }

  clear(): void {
    this.waiting.clear();
  }
}
