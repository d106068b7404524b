import type { ClientConnection } from './ClientConnection';
import type { ResolvedOptions } from './options';

/**
 * Relay backpressure: a sender whose target is above relayHighWaterMark stops being read (TCP then slows it down)
 * until the target drains below half of it; a target that keeps its senders held back for slowConsumerTimeoutMs
 * is closed as a slow consumer.
 */
export class RelayFlow {
  constructor(
    private readonly options: Pick<ResolvedOptions, 'relayHighWaterMark' | 'slowConsumerTimeoutMs'>,
    private readonly slowConsumer: (target: ClientConnection) => void,
  ) {}

  /** Stops reading from `sender` while `target` is over the high-water mark: TCP then slows the sender down. */
  holdBack(sender: ClientConnection, target: ClientConnection): void {
    if (target.heldSenders.has(sender)) return;
    target.heldSenders.add(sender);
    sender.heldBy.add(target);
    if (sender.heldBy.size === 1) sender.syncReading();
    this.startSlowTimer(target);
  }

  /** `target` holds senders back (here or on other brokers): it is closed as a slow consumer if it does not drain in time. */
  startSlowTimer(target: ClientConnection): void {
    target.slowTimer ??= setTimeout(() => {
      target.slowTimer = null;
      this.slowConsumer(target);
    }, this.options.slowConsumerTimeoutMs);
  }

  /** True when `target` is below half the high-water mark: the moment to let its senders go on. */
  drained(target: ClientConnection): boolean {
    return target.pendingBytes <= this.options.relayHighWaterMark / 2;
  }

  /** Resumes the senders `target` held back, once it drained below half the high-water mark (or is gone). */
  releaseHeld(target: ClientConnection, force = false): void {
    if (!target.holdsSenders) return;
    if (!force && !this.drained(target)) return;
    if (target.slowTimer) clearTimeout(target.slowTimer);
    target.slowTimer = null;
    for (const sender of target.heldSenders) {
      sender.heldBy.delete(target);
      if (sender.heldBy.size === 0) sender.syncReading();
    }
    target.heldSenders.clear();
  }

  /** `conn` is gone: the senders it held read again, and the targets holding it forget it. */
  forget(conn: ClientConnection): void {
    this.releaseHeld(conn, true);
    for (const target of conn.heldBy) {
      target.heldSenders.delete(conn);
      if (target.heldSenders.size === 0 && target.slowTimer) {
        clearTimeout(target.slowTimer);
        target.slowTimer = null;
      }
    }
    conn.heldBy.clear();
  }
}
