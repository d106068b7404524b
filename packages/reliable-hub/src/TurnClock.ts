/**
 * `performance.now()`, read at most once a turn. The frames an inner endpoint delivers in one batch arrive at the
 * same moment as far as liveness can tell, and reading the clock for each of them costs a measurable share of the
 * receive path.
 */
export class TurnClock {
  private cached = -1;
  private readonly forget = (): void => {
    this.cached = -1;
  };

  now(): number {
    if (this.cached < 0) {
      this.cached = performance.now();
      queueMicrotask(this.forget);
    }
    return this.cached;
  }
}
