/**
 * Relay flow control across brokers, on the sender's side: the bytes each socket relayed to each target on another
 * broker that the target's broker has not yet acknowledged (queued toward the target). The target's broker holds a
 * sender back once the target is above relayHighWaterMark, but that hold takes a round trip through the bus; this
 * window bounds what a fast sender puts on the bus meanwhile, so a slow target's queue overshoots its high-water
 * mark by at most one window instead of by what a whole bus read holds (Redis reads carry megabytes).
 */
export class RemoteWindows {
  /** sender socket id → target socket id → bytes in flight. */
  private readonly inFlight = new Map<string, Map<string, number>>();

  constructor(private readonly limit: number) {}

  /** Counts `bytes` sent by `sender` to `toSocket`; true when that pair just passed the window (hold the sender). */
  sent(sender: string, toSocket: string, bytes: number): boolean {
    let pairs = this.inFlight.get(sender);
    if (!pairs) this.inFlight.set(sender, (pairs = new Map()));
    const before = pairs.get(toSocket) ?? 0;
    const after = before + bytes;
    pairs.set(toSocket, after);
    return before <= this.limit && after > this.limit;
  }

  /** `bytes` of that pair arrived; true when the pair just came back to half the window (read the sender again). */
  acked(sender: string, toSocket: string, bytes: number): boolean {
    const pairs = this.inFlight.get(sender);
    const before = pairs?.get(toSocket);
    if (pairs === undefined || before === undefined) return false;
    const after = Math.max(0, before - bytes);
    pairs.set(toSocket, after);
    return before > this.limit / 2 && after <= this.limit / 2;
  }

  /** The pair is gone (lost, closed, its broker down): nothing of it is in flight any more. */
  drop(sender: string, toSocket: string): void {
    this.inFlight.get(sender)?.delete(toSocket);
  }

  /** The sender is gone. */
  forget(sender: string): void {
    this.inFlight.delete(sender);
  }
}

/** The mark a window places in a sender's `heldRemotely`, beside the holds of the target (`by`) itself. */
export function windowHold(toSocket: string): string {
  return `${toSocket}#window`;
}
