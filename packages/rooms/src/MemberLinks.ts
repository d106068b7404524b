import { ConnectionStatus, createLogger, type MultiplexingEndpoint } from '@vnf/core';

const log = createLogger('rooms');

/** Retry delays of a connection to a member that failed, ms: doubling from the first to the last. */
export const RETRY_FIRST_MS = 200;
export const RETRY_MAX_MS = 5000;

/**
 * The connections a room needs: one to every other member. Of two members the one with the smaller eva opens it
 * (so two never cross), and opens it again, with backoff, while the other is a member and it is not connected.
 */
export class MemberLinks {
  private readonly wanted = new Map<string, { timer: ReturnType<typeof setTimeout> | null; delay: number; opening: boolean }>();
  private closed = false;

  constructor(private readonly endpoint: MultiplexingEndpoint) {}

  /** `eva` is a member: be connected to it. */
  want(eva: string): void {
    if (this.closed || this.wanted.has(eva) || !(this.endpoint.eva < eva)) return;
    this.wanted.set(eva, { timer: null, delay: RETRY_FIRST_MS, opening: false });
    this.open(eva);
  }

  /** `eva` is no longer a member. The connection is left open: the app or another room may use it. */
  drop(eva: string): void {
    const link = this.wanted.get(eva);
    if (link?.timer) clearTimeout(link.timer);
    this.wanted.delete(eva);
  }

  /** The connection to `eva` was lost: open it again if it is still wanted. */
  lost(eva: string): void {
    const link = this.wanted.get(eva);
    if (link && !link.opening && !link.timer) this.retry(eva);
  }

  close(): void {
    this.closed = true;
    for (const eva of [...this.wanted.keys()]) this.drop(eva);
  }

  private open(eva: string): void {
    const link = this.wanted.get(eva);
    if (!link || this.closed || this.endpoint.destroyed) return;
    if (this.endpoint.isConnected(eva)) return;
    link.opening = true;
    void this.endpoint.openConnection(eva).then((event) => {
      link.opening = false;
      if (this.wanted.get(eva) !== link) return;
      if (event.status === ConnectionStatus.CONNECTED) link.delay = RETRY_FIRST_MS;
      else {
        log('%s could not connect to member %s (%s); retrying', this.endpoint.eva, eva, event.reason ?? event.status);
        this.retry(eva);
      }
    });
  }

  private retry(eva: string): void {
    const link = this.wanted.get(eva);
    if (!link || this.closed) return;
    link.timer = setTimeout(() => {
      link.timer = null;
      this.open(eva);
    }, link.delay);
    link.delay = Math.min(link.delay * 2, RETRY_MAX_MS);
  }
}
