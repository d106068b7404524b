/** What one client (one `clientKey`) holds on this broker right now. */
export interface ClientUsage {
  /** Sockets accepted and not registered yet. */
  pending: number;
  /** Registered sockets (endpoint and rpc). */
  evas: number;
  /** Registry watches across its sockets. */
  watches: number;
}

export interface ClientLimits {
  maxPendingPerClient: number;
  maxEvasPerClient: number;
  maxWatchesPerClient: number;
}

/**
 * Per-client accounting, so that one client (by default one remote address) cannot hold more than its share of
 * sockets, evas and watches however many sockets it opens. Entries vanish when a client holds nothing.
 */
export class ClientBudgets {
  private readonly usage = new Map<string, ClientUsage>();

  constructor(private readonly limits: ClientLimits) {}

  /** Takes one unit of `what` for `client`; false (nothing taken) when the client is at its limit. */
  take(client: string, what: keyof ClientUsage): boolean {
    const usage = this.usage.get(client) ?? { pending: 0, evas: 0, watches: 0 };
    if (usage[what] >= this.limitOf(what)) return false;
    usage[what] += 1;
    this.usage.set(client, usage);
    return true;
  }

  /** Gives back one unit taken with `take`. */
  give(client: string, what: keyof ClientUsage): void {
    const usage = this.usage.get(client);
    if (!usage || usage[what] === 0) return;
    usage[what] -= 1;
    if (usage.pending === 0 && usage.evas === 0 && usage.watches === 0) this.usage.delete(client);
  }

  /** The limit of `what`, for error messages. */
  limitOf(what: keyof ClientUsage): number {
    if (what === 'pending') return this.limits.maxPendingPerClient;
    if (what === 'evas') return this.limits.maxEvasPerClient;
    return this.limits.maxWatchesPerClient;
  }

  /** How many clients hold something (for monitoring and tests). */
  get clientCount(): number {
    return this.usage.size;
  }
}
