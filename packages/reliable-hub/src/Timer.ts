/**
 * One restartable timeout. Connections hold several; all are cleared when the connection ends.
 *
 * Moving the deadline later keeps the pending timeout, which re-arms itself for the rest when it fires: the
 * retransmission timer moves on every acknowledgement, and a clearTimeout and setTimeout each time would cost more
 * than the early wake-up.
 */
export class Timer {
  private handle: ReturnType<typeof setTimeout> | null = null;
  /** When the callback is due (performance.now() ms). */
  private due = 0;
  /** When the pending timeout fires: at or before `due`. */
  private fires = 0;

  constructor(private readonly callback: () => void) {}

  get armed(): boolean {
    return this.handle !== null;
  }

  /** (Re)arms the timer to fire once after `ms`. */
  set(ms: number): void {
    const now = performance.now();
    this.due = now + Math.max(0, ms);
    if (this.handle !== null && this.fires <= this.due) return;
    this.clear();
    this.arm(now);
  }

  clear(): void {
    if (this.handle !== null) {
      clearTimeout(this.handle);
      this.handle = null;
    }
  }

  private arm(now: number): void {
    this.fires = this.due;
    this.handle = setTimeout(() => {
      this.handle = null;
      const early = performance.now();
      // setTimeout may fire a fraction of a millisecond before its time, so only a deadline moved later re-arms.
      if (this.due > this.fires && this.due > early) this.arm(early);
      else this.callback();
    }, this.due - now);
  }
}
