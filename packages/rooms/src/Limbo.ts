/** Frames of a sender not (yet) known as a member are kept this long, at most. */
export const LIMBO_MS = 10_000;
/** Frames kept per such sender, and senders kept, at most. */
export const LIMBO_FRAMES = 1024;
export const LIMBO_SENDERS = 64;

interface Parked {
  at: number;
  frames: unknown[];
}

/**
 * Frames from evas the room does not know as members yet: a member's frames may arrive before the registry tells
 * of its join. Replayed in arrival order when it is known, dropped when it never is. Bounded in frames, senders and time.
 */
export class Limbo {
  private readonly parked = new Map<string, Parked>();

  park(from: string, frame: unknown): void {
    const now = Date.now();
    this.expire(now);
    let p = this.parked.get(from);
    if (!p) {
      if (this.parked.size >= LIMBO_SENDERS) return;
      p = { at: now, frames: [] };
      this.parked.set(from, p);
    }
    if (p.frames.length < LIMBO_FRAMES) p.frames.push(frame);
  }

  /** What `from` sent before it was known, in order; forgotten here. */
  take(from: string): unknown[] {
    const p = this.parked.get(from);
    this.parked.delete(from);
    return p ? p.frames : [];
  }

  drop(from: string): void {
    this.parked.delete(from);
  }

  clear(): void {
    this.parked.clear();
  }

  private expire(now: number): void {
    for (const [from, p] of this.parked) if (now - p.at > LIMBO_MS) this.parked.delete(from);
  }
}
