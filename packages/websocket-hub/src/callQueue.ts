/**
 * The calls of every Rpc on one socket, held to the broker's `callsInFlight` budget (from its welcome): at most
 * that many sent and unanswered; the others wait here in call order and leave as answers come back.
 *
 * A call keeps its slot until the broker answers it, even when its caller gave up (timeout, Rpc closed): the
 * broker still counts it, and a call over its budget would be refused RATE_LIMITED. A new socket starts afresh.
 */
export class CallQueue {
  /** Ids sent on the current socket and not answered yet. */
  private readonly inFlight = new Set<number>();
  /** Serialized calls waiting for a slot or for the socket, by id, in call order (a Map keeps insertion order). */
  private readonly waiting = new Map<number, string>();
  private limit = Infinity;
  private open = false;

  constructor(private readonly transmit: (text: string) => void) {}

  /** Sends the call now when the socket is up and within budget, or queues it. `text` is the whole control message. */
  submit(id: number, text: string): void {
    this.waiting.set(id, text);
    this.pump();
  }

  /** Drops a call that has not been sent (its caller gave up on it). A sent call keeps its slot until answered. */
  withdraw(id: number): void {
    this.waiting.delete(id);
  }

  /** The broker answered call `id` (result or failure): its slot is free. */
  answered(id: number): void {
    if (this.inFlight.delete(id)) this.pump();
  }

  /** A socket was welcomed; `limit` is its `callsInFlight` (undefined: no limit). Sends what waited. */
  up(limit: number | undefined): void {
    this.limit = limit ?? Infinity;
    this.open = true;
    this.pump();
  }

  /** The socket is gone, and with it the broker's count. Waiting calls are dropped: their Rpc rejects them. */
  down(): void {
    this.open = false;
    this.inFlight.clear();
    this.waiting.clear();
  }

  private pump(): void {
    if (!this.open) return;
    for (const [id, text] of this.waiting) {
      if (this.inFlight.size >= this.limit) return;
      this.waiting.delete(id);
      this.inFlight.add(id);
      this.transmit(text);
    }
  }
}
