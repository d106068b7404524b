import type { PeerLink } from './PeerLink';

/**
 * The data channels of one hub that were closed on purpose and wait for their peer to read what was sent.
 * The hub's `close()` waits for them, so nothing (peer connection, timer) outlives it.
 */
export class LingeringLinks {
  private readonly links = new Map<PeerLink, Promise<void>>();

  add(link: PeerLink, released: Promise<void>): void {
    this.links.set(link, released);
    void released.then(() => this.links.delete(link));
  }

  /** Waits until every lingering link is released, at most `capMs`; then releases the rest at once. */
  async settle(capMs: number): Promise<void> {
    if (this.links.size === 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const cap = new Promise<void>((resolve) => (timer = setTimeout(resolve, capMs)));
    await Promise.race([Promise.all(this.links.values()), cap]);
    clearTimeout(timer);
    for (const link of [...this.links.keys()]) link.destroy();
  }
}
