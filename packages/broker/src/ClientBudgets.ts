import { TokenBucket } from './TokenBucket';

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
  maxControlBytesPerSecondPerClient: number;
  maxReplyBytesPerSecondPerClient: number;
}

/**
 * How much of a second's budget a client may spend in one burst: an eighth of its control messages (16 at least), a
 * sixteenth of its control bytes and fan-out, a thirty-second of its reply bytes (64 KiB at least). Small bursts keep
 * what one client costs the broker spread over the second, where an honest neighbour's latency does not feel it.
 */
const NOTIFY_BURST_SHARE = 16;
const CONTROL_BURST_SHARE = 8;
const CONTROL_BYTES_BURST_SHARE = 16;
const REPLY_BURST_SHARE = 32;
const MIN_BURST_BYTES = 64 * 1024;
const MIN_BURST_MESSAGES = 16;

/**
 * Per-client accounting, so that one client (by default one remote address) cannot hold more than its share of
 * sockets, evas and watches however many sockets it opens. Entries vanish when a client holds nothing.
 */
export class ClientBudgets {
  private readonly usage = new Map<string, ClientUsage>();
  /** Control messages each client may still send before it is paced. */
  private readonly controls = new Map<string, TokenBucket>();
  /** Bytes of registry notifications each client may still be sent: its fan-out. */
  private readonly notified = new Map<string, TokenBucket>();
  /** Bytes of control messages (calls above all) each client may still send before its sockets are read no further. */
  private readonly controlBytes = new Map<string, TokenBucket>();
  /** Bytes of RPC replies each client may still be sent before its sockets are read no further. */
  private readonly replyBytes = new Map<string, TokenBucket>();

  /** Registry watches of every client: the metrics' gauge. */
  totalWatches = 0;

  constructor(private readonly limits: ClientLimits) {}

  /** Takes one unit of `what` for `client`; false (nothing taken) when the client is at its limit. */
  take(client: string, what: keyof ClientUsage): boolean {
    const usage = this.usage.get(client) ?? { pending: 0, evas: 0, watches: 0 };
    if (usage[what] >= this.limitOf(what)) return false;
    usage[what] += 1;
    if (what === 'watches') this.totalWatches++;
    this.usage.set(client, usage);
    return true;
  }

  /** Gives back one unit taken with `take`. */
  give(client: string, what: keyof ClientUsage): void {
    const usage = this.usage.get(client);
    if (!usage || usage[what] === 0) return;
    usage[what] -= 1;
    if (what === 'watches') this.totalWatches--;
    if (usage.pending === 0 && usage.evas === 0 && usage.watches === 0) {
      this.usage.delete(client);
      this.controls.delete(client);
      this.notified.delete(client);
      this.controlBytes.delete(client);
      this.replyBytes.delete(client);
    }
  }

  /**
   * Takes one control message of `client` (all its sockets); false, nothing taken, when it must wait (controlWaitMs):
   * it has no message left for now, or is in debt for the bytes of what it sent or was answered.
   */
  takeControl(client: string, now: number): boolean {
    if (this.debtMs(this.controlBytes, client, now) > 0 || this.debtMs(this.replyBytes, client, now) > 0) return false;
    return this.controlBucket(client, now).tryTake(1, now);
  }

  /** Milliseconds until `client` may send its next control message. */
  controlWaitMs(client: string, now: number): number {
    return Math.max(this.controlBucket(client, now).msUntil(1, now), this.debtMs(this.controlBytes, client, now), this.debtMs(this.replyBytes, client, now));
  }

  private debtMs(buckets: Map<string, TokenBucket>, client: string, now: number): number {
    return buckets.get(client)?.msUntil(0, now) ?? 0;
  }

  private controlBucket(client: string, now: number): TokenBucket {
    return this.bucket(this.controls, client, this.limits.maxControlPerSecondPerClient, CONTROL_BURST_SHARE, now, MIN_BURST_MESSAGES);
  }

  /** Counts `bytes` of notifications toward `client`; false (nothing counted) when they would pass its budget. */
  withinNotifyRate(client: string, bytes: number, now: number): boolean {
    return this.bucket(this.notified, client, this.limits.maxNotifyBytesPerSecondPerClient, NOTIFY_BURST_SHARE, now).tryTake(bytes, now);
  }

  /** True when `client` may be notified again: its fan-out budget refilled to half. */
  notifyRoom(client: string, now: number): boolean {
    return this.bucket(this.notified, client, this.limits.maxNotifyBytesPerSecondPerClient, NOTIFY_BURST_SHARE, now).holds(0.5, now);
  }

  /** Counts `bytes` of control messages received from `client`: past its budget, its next control message waits. */
  spendControlBytes(client: string, bytes: number, now: number): void {
    this.bucket(this.controlBytes, client, this.limits.maxControlBytesPerSecondPerClient, CONTROL_BYTES_BURST_SHARE, now).take(bytes, now);
  }

  /** Counts `bytes` of RPC replies sent to `client`: past its budget, its next control message waits. */
  spendReplyBytes(client: string, bytes: number, now: number): void {
    this.bucket(this.replyBytes, client, this.limits.maxReplyBytesPerSecondPerClient, REPLY_BURST_SHARE, now).take(bytes, now);
  }

  private bucket(buckets: Map<string, TokenBucket>, client: string, rate: number, burstShare: number, now: number, minBurst = MIN_BURST_BYTES): TokenBucket {
    let bucket = buckets.get(client);
    if (!bucket) {
      bucket = TokenBucket.forRate(rate, burstShare, minBurst, now);
      buckets.set(client, bucket);
    }
    return bucket;
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
