/**
 * The lifetime model's grace period (docs/design.md, "Lifetimes"): after an unclean drop an eva stays reserved for
 * its session token, with its registry entries, until `graceMs` passes or a reconnect proving the token takes it.
 */
export class GraceReservations<T> {
  private readonly held = new Map<string, { value: T; timer: ReturnType<typeof setTimeout> }>();

  constructor(
    private readonly graceMs: number,
    private readonly expire: (value: T) => void,
  ) {}

  /** Reserves `value` under `id` until the grace ends; false when grace is off (the caller releases at once). */
  hold(id: string, value: T): boolean {
    if (this.graceMs === 0) return false;
    const timer = setTimeout(() => {
      this.held.delete(id);
      this.expire(value);
    }, this.graceMs);
    this.held.set(id, { value, timer });
    return true;
  }

  /** Ends the reservation of `id` early (a reconnect took it over) and hands it back; undefined when none. */
  take(id: string): T | undefined {
    const entry = this.held.get(id);
    if (!entry) return undefined;
    clearTimeout(entry.timer);
    this.held.delete(id);
    return entry.value;
  }

  /** Ends every reservation now, as if its grace had passed (the broker is closing). */
  expireAll(): void {
    for (const id of [...this.held.keys()]) {
      const value = this.take(id);
      if (value !== undefined) this.expire(value);
    }
  }

  /** What is reserved now. */
  *values(): Iterable<T> {
    for (const { value } of this.held.values()) yield value;
  }

  get size(): number {
    return this.held.size;
  }
}
