/** Which broker URL a factory's sockets try first: a random one (clients spread without a load balancer), or the first given. */
export type UrlStart = 'random' | 'first';

/** The index of the URL a factory's new sockets try first. */
export function startIndex(count: number, start: UrlStart, random: () => number = Math.random): number {
  if (start === 'first' || count <= 1) return 0;
  // min: a random() that returns 1 (a bad stub) must not point past the end.
  return Math.min(count - 1, Math.floor(random() * count));
}

/**
 * The order in which one socket (one eva and role) goes through the broker URLs: from the factory's start, each
 * attempt — after a failed connect or a lost socket alike — to the next URL, wrapping around. Each channel has its
 * own, so one endpoint's failover does not move the others.
 */
export class UrlRotation {
  private index: number;

  constructor(
    private readonly urls: readonly string[],
    start: number,
  ) {
    this.index = start;
  }

  /** How many URLs a full round tries. */
  get size(): number {
    return this.urls.length;
  }

  /** The URL of the next attempt; the one after it comes next time. */
  next(): string {
    const url = this.urls[this.index]!;
    this.index = (this.index + 1) % this.urls.length;
    return url;
  }
}
