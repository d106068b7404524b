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
  maxControlPerSecondPerClient: number;
  maxNotifyBytesPerSecondPerClient: number;
}

/**
 * Per-client accounting, so that one client (by default one remote address) cannot hold more than its share of
 * sockets, evas and watches however many sockets it opens. Entries vanish when a client holds nothing.
 */
export class ClientBudgets {
  private readonly usage = new Map<string, ClientUsage>();
  /** Control messages of each client in the current one-second window, across all its sockets. */
  private readonly controls = new Map<string, { start: number; count: number }>();
  /** Bytes of registry notifications toward each client in the current one-second window: its fan-out. */
  private readonly notified = new Map<string, { start: number; count: number }>();

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
    if (usage.pending === 0 && usage.evas === 0 && usage.watches === 0) {
      this.usage.delete(client);
      this.controls.delete(client);
      this.notified.delete(client);
    }
  }

  /** Counts one control message of `client`; false once the client, over all its sockets, is past its limit. */
  withinControlRate(client: string, now: number): boolean {
    const window = this.window(this.controls, client, now);
    window.count += 1;
    return window.count <= this.limits.maxControlPerSecondPerClient;
  }

  /** Counts `bytes` of notifications toward `client`; false (nothing counted) when they would pass its budget. */
  withinNotifyRate(client: string, bytes: number, now: number): boolean {
    const window = this.window(this.notified, client, now);
    if (window.count + bytes > this.limits.maxNotifyBytesPerSecondPerClient) return false;
    window.count += bytes;
    return true;
  }

  /** True when `client` may be notified again: its notification window has room (a new second began). */
  notifyRoom(client: string, now: number): boolean {
    return this.window(this.notified, client, now).count < this.limits.maxNotifyBytesPerSecondPerClient;
  }

  private window(windows: Map<string, { start: number; count: number }>, client: string, now: number): { start: number; count: number } {
    let window = windows.get(client);
    if (!window || now - window.start >= 1000) {
      window = { start: now, count: 0 };
      windows.set(client, window);
    }
    return window;
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
