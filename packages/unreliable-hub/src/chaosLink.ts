/** One copy of a message waiting in a link. */
export interface LinkItem {
  message: unknown;
  size: number;
  /** The message's sequence number on its directed pair. */
  seq: number;
  /** When it may be handed on (clock ms). */
  releaseAt: number;
  /** Arrival order in this link: breaks ties so equal release times keep the order sent. */
  order: number;
  /** Held back for reordering: later messages still to overtake it (0 when not held). */
  passesLeft: number;
  /** Held back for reordering: released at this time even if not enough messages overtook it. */
  deadline: number;
  /** A copy of a multicast, handed on as best effort. */
  multicast: boolean;
}

export interface ReorderHold {
  distance: number;
  maxHoldMs: number;
}

export const clock = (): number => performance.now();

/**
 * The messages of one directed pair that UnreliableHub holds back (latency, jitter, bandwidth, reordering),
 * released in release-time order by one timer. `close` discards everything, so nothing is handed on after
 * its connection ended and no timer outlives it.
 */
export class ChaosLink {
  private readonly release: (item: LinkItem) => void;
  private readonly afterTimer: () => void;
  /** Sorted by (releaseAt, order). */
  private queue: LinkItem[] = [];
  private held: LinkItem[] = [];
  private busyUntil = 0;
  private nextOrder = 0;
  private bytes = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerAt = Infinity;
  private pumping = false;
  private closed = false;

  /**
   * @param release hands one copy on; called in release order.
   * @param afterTimer runs after a timer released copies (not after `add`), so events such as `drain` never fire inside `send`.
   */
  constructor(release: (item: LinkItem) => void, afterTimer: () => void) {
    this.release = release;
    this.afterTimer = afterTimer;
  }

  /** Bytes held and not yet handed on. */
  get bufferedBytes(): number {
    return this.bytes;
  }

  /** True when nothing is held: a new message with no delay may bypass the link without overtaking anything. */
  get idle(): boolean {
    return this.queue.length === 0 && this.held.length === 0;
  }

  /**
   * Adds one copy. It leaves after the copies ahead of it under the bandwidth cap, then waits `delayMs`;
   * with `reorder`, it is held until `distance` later copies went past it or `maxHoldMs` passed.
   * A copy already due is handed on before `add` returns.
   */
  add(
    message: unknown,
    size: number,
    seq: number,
    delayMs: number,
    bytesPerSecond: number,
    reorder: ReorderHold | null,
    multicast = false,
  ): void {
    if (this.closed) return;
    const now = clock();
    let departAt = now;
    if (Number.isFinite(bytesPerSecond)) {
      departAt = Math.max(now, this.busyUntil) + (size * 1000) / bytesPerSecond;
      this.busyUntil = departAt;
    }
    const item: LinkItem = {
      message,
      size,
      seq,
      releaseAt: departAt + delayMs,
      order: this.nextOrder++,
      passesLeft: 0,
      deadline: Infinity,
      multicast,
    };
    this.bytes += size;
    if (reorder) {
      item.passesLeft = reorder.distance;
      item.deadline = item.releaseAt + reorder.maxHoldMs;
      this.held.push(item);
    } else {
      this.enqueue(item);
    }
    this.pump();
  }

  /** Stops the link: clears its timer and returns the copies it still held (never handed on). */
  close(): LinkItem[] {
    this.closed = true;
    this.clearTimer();
    const dropped = [...this.queue, ...this.held].sort((x, y) => x.order - y.order);
    this.queue = [];
    this.held = [];
    this.bytes = 0;
    return dropped;
  }

  private pump(): void {
    // A released message may make the application send again (incoming chaos delivers to it): that `add` only
    // enqueues, and this loop, which re-reads the queues each round, hands it on.
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (;;) {
        if (this.closed) return;
        const now = clock();
        const head = this.queue[0];
        const expired = this.earliestDeadline();
        const headDue = head !== undefined && head.releaseAt <= now;
        const heldDue = expired !== undefined && expired.deadline <= now;
        if (!headDue && !heldDue) break;
        if (heldDue && (!headDue || expired.deadline <= head.releaseAt)) {
          this.held.splice(this.held.indexOf(expired), 1);
          this.handOn(expired);
        } else {
          this.queue.shift();
          this.handOn(head);
          this.overtaken();
        }
      }
      this.schedule();
    } finally {
      this.pumping = false;
    }
  }

  /** A copy went past every held one: those overtaken often enough rejoin the queue at their place in time. */
  private overtaken(): void {
    if (this.held.length === 0) return;
    const now = clock();
    const stillHeld: LinkItem[] = [];
    for (const item of this.held) {
      item.passesLeft -= 1;
      if (item.passesLeft > 0) {
        stillHeld.push(item);
      } else {
        item.releaseAt = Math.max(item.releaseAt, now);
        this.enqueue(item);
      }
    }
    this.held = stillHeld;
  }

  private handOn(item: LinkItem): void {
    this.bytes -= item.size;
    this.release(item);
  }

  private enqueue(item: LinkItem): void {
    const q = this.queue;
    let i = q.length;
    // Usually appended at the end (constant delay); walk back only past copies that are due later.
    while (i > 0 && (q[i - 1].releaseAt > item.releaseAt || (q[i - 1].releaseAt === item.releaseAt && q[i - 1].order > item.order))) i--;
    q.splice(i, 0, item);
  }

  private earliestDeadline(): LinkItem | undefined {
    let earliest: LinkItem | undefined;
    for (const item of this.held) if (!earliest || item.deadline < earliest.deadline) earliest = item;
    return earliest;
  }

  private schedule(): void {
    const at = Math.min(this.queue[0]?.releaseAt ?? Infinity, this.earliestDeadline()?.deadline ?? Infinity);
    if (at === Infinity) {
      this.clearTimer();
      return;
    }
    if (this.timer !== undefined && this.timerAt <= at) return;
    this.clearTimer();
    this.timerAt = at;
    // Timers may fire a little early against performance.now(); pump() then finds nothing due and re-arms.
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.pump();
      if (!this.closed) this.afterTimer();
    }, Math.max(0, Math.ceil(at - clock())));
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }
}
