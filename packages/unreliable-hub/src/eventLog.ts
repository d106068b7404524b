import type { ChaosEvent } from './events';

/** The last `capacity` events in a ring, so a long chaos run keeps bounded memory. */
export class EventLog {
  private readonly capacity: number;
  private entries: ChaosEvent[] = [];
  private start = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  push(event: ChaosEvent): void {
    if (this.capacity === 0) return;
    if (this.entries.length < this.capacity) {
      this.entries.push(event);
      return;
    }
    this.entries[this.start] = event;
    this.start = (this.start + 1) % this.capacity;
  }

  /** Oldest first; copies, so callers cannot change the log. */
  toArray(): ChaosEvent[] {
    const ordered = [...this.entries.slice(this.start), ...this.entries.slice(0, this.start)];
    return ordered.map((event) => ({ ...event }));
  }

  clear(): void {
    this.entries = [];
    this.start = 0;
  }
}
