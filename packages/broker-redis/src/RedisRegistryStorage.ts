import { createHash } from 'node:crypto';
import {
  VnfError,
  createLogger,
  option,
  optionsSchema,
  type ChangesSince,
  type OwnerQuota,
  type RecordValue,
  type RegistryKey,
  type RegistryStorage,
  type StorageChange,
  type StoredRecord,
  type WriteCondition,
  type WriteOutcome,
} from '@vnf/core';
import { Redis } from 'ioredis';
import { quit } from './connection';
import { ChangeFeed } from './registry/ChangeFeed';
import { compareUnits, decodeChange, decodeRecord, hex, limitArg, valueArgs } from './registry/codec';
import { CHANGES_SINCE, KEEP_ALIVE, OWNED_BY, PAGE, REAP, WRITE } from './registry/scripts';

const log = createLogger('broker-redis:registry');

export interface RedisRegistryStorageOptions {
  /**
   * The Redis holding the store: a `redis://` URL (the storage opens its connections and closes them on `close`),
   * or an ioredis client (left open on `close`; give one without ioredis' own `keyPrefix` option). Either way the
   * storage opens one more connection of its own (`duplicate()`) for the blocking reads of the change log.
   * Required.
   */
  redis: string | Redis;
  /**
   * Prefix of every key the storage writes (under `<keyPrefix>reg:`). Brokers of one cluster share it; stores on
   * one Redis differ in it.
   * @default 'vnf:'
   */
  keyPrefix?: string;
  /**
   * Changes the change log (a Redis stream) keeps for `changesSince` and for handles that fell behind; older ones
   * are dropped, and a reader that far behind reads a snapshot.
   * @default 10000
   */
  changeLogLength?: number;
  /**
   * How often this handle looks for owners whose lease ran out (any handle's, so that the owners of a broker that
   * died are expired by the others), ms. A lease given through this handle is also checked when it is due.
   * @default 1000
   */
  reapIntervalMs?: number;
  /**
   * How long a command may wait for Redis' answer, ms, before it rejects UNAVAILABLE (on connections the storage
   * opened from a URL; an ioredis client given keeps its own settings); also how long a write waits for its change
   * to come back through the change log before it resolves anyway.
   * @default 5000
   */
  commandTimeoutMs?: number;
}

export const DEFAULT_CHANGE_LOG_LENGTH = 10_000;
export const DEFAULT_REAP_INTERVAL_MS = 1000;
export const DEFAULT_COMMAND_TIMEOUT_MS = 5000;
export const DEFAULT_KEY_PREFIX = 'vnf:';

/** Owners expired by one run of the reaping script; more are left to an immediate next run. */
const REAP_BATCH = 100;
/** Reconnections a command waits through before it rejects (URL connections; about 1.5 s of outage). */
const MAX_RETRIES_PER_REQUEST = 5;
const MAX_TIMER_MS = 2 ** 31 - 1;

/** An ioredis client, by what the storage calls on it (a copy of ioredis other than ours passes too). */
function isRedisClient(value: unknown): value is Redis {
  return typeof value === 'object' && value !== null && typeof (value as Redis).duplicate === 'function' && typeof (value as Redis).evalsha === 'function';
}

const SCHEMA = optionsSchema(
  'RedisRegistryStorage',
  {
    redis: option.custom<string | Redis>({
      expected: "a redis:// URL or an ioredis client, e.g. 'redis://127.0.0.1:6379'",
      check: (value) => (typeof value === 'string' && /^rediss?:\/\//.test(value)) || isRedisClient(value),
    }),
    keyPrefix: option.string({ default: DEFAULT_KEY_PREFIX }),
    changeLogLength: option.integer({ min: 1, default: DEFAULT_CHANGE_LOG_LENGTH }),
    reapIntervalMs: option.integer({ min: 1, max: MAX_TIMER_MS, default: DEFAULT_REAP_INTERVAL_MS }),
    commandTimeoutMs: option.integer({ min: 1, max: MAX_TIMER_MS, default: DEFAULT_COMMAND_TIMEOUT_MS }),
  },
  {
    check: (o) => (o.redis === undefined ? "needs redis: a redis:// URL or an ioredis client, e.g. { redis: 'redis://127.0.0.1:6379' }." : undefined),
  },
);

/** A Lua script run by its digest, loaded on first use (EVALSHA, then EVAL on NOSCRIPT: after a restart too). */
class Script {
  private readonly sha: string;

  constructor(private readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(redis: Redis, args: string[]): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, 0, ...args);
    } catch (err) {
      if (err instanceof Error && err.message.startsWith('NOSCRIPT')) return redis.eval(this.source, 0, ...args);
      throw err;
    }
  }
}

const SCRIPTS = {
  write: new Script(WRITE),
  page: new Script(PAGE),
  ownedBy: new Script(OWNED_BY),
  changesSince: new Script(CHANGES_SINCE),
  keepAlive: new Script(KEEP_ALIVE),
  reap: new Script(REAP),
  // Single commands go through scripts too: their keys are built like the other scripts', whatever the client's options.
  read: new Script(`return { redis.call('HGET', ARGV[1] .. 'reg:r:' .. ARGV[2], ARGV[3]), tonumber(redis.call('GET', ARGV[1] .. 'reg:rev') or '0') }`),
  revision: new Script(`return tonumber(redis.call('GET', ARGV[1] .. 'reg:rev') or '0')`),
  endLease: new Script(`return redis.call('ZREM', ARGV[1] .. 'reg:lease', ARGV[2])`),
};

/**
 * RegistryStorage on Redis, shared by every broker (handle) on one Redis and key prefix. Each write is one Lua
 * script: the condition, the quota, the store revision, the record, the per-owner and per-collection indexes and
 * the change log, at once. Names are indexed as the hex of their UTF-16 code units, so Redis' byte order of the
 * index is the code-unit order pages promise.
 *
 * The change log is a Redis stream, entry id `<revision>-0`, trimmed to `changeLogLength`. Each handle reads it on
 * a connection of its own (XREAD BLOCK) and tells its subscribers the changes of their collections, its own and
 * other handles', in one revision order. "Synchronously with the write" means here: a subscriber of this handle
 * hears a write made through it before that write resolves, and every change in revision order. A subscription
 * hears every change this handle's feed had not told when it was made (so every later one, and none of this
 * handle's writes that resolved before it; a change of another handle made just before may still come). Reads
 * (read, page, revision, changesSince) resolve only once the subscribers were told every change up to what they
 * saw, so a reader never sees the store ahead of its subscriptions.
 *
 * Leases are a sorted set of owner deadlines on Redis' clock. Every handle runs the reaping script every
 * `reapIntervalMs` (and when a lease it gave is due); the script pops the expired owners and applies their removals
 * and wills in the same step, so that with several handles each expiry happens exactly once.
 *
 * Redis failures reject with VnfError UNAVAILABLE. Needs a standalone Redis (the scripts build their keys), 6.2 or
 * later; without persistence a restart empties the store, which handles notice (their revision goes back).
 */
export class RedisRegistryStorage implements RegistryStorage {
  private readonly redis: Redis;
  private readonly owned: boolean;
  private readonly feed: ChangeFeed;
  private readonly prefix: string;
  private readonly logLength: string;
  private readonly reapIntervalMs: number;
  private readonly commandTimeoutMs: number;
  /** Where Redis is, for messages (no credentials). */
  private readonly where: string;
  private starting: Promise<void> | null = null;
  private reapTimer: ReturnType<typeof setTimeout> | null = null;
  private reapAt = Infinity;
  private reaping: Promise<void> | null = null;
  private closed = false;
  private closing: Promise<void> | null = null;

  constructor(options: RedisRegistryStorageOptions) {
    const resolved = SCHEMA.resolve(options);
    const source = resolved.redis!;
    this.prefix = resolved.keyPrefix;
    this.logLength = String(resolved.changeLogLength);
    this.reapIntervalMs = resolved.reapIntervalMs;
    this.commandTimeoutMs = resolved.commandTimeoutMs;
    if (typeof source === 'string') {
      this.where = describeUrl(source);
      // A few reconnections, then commands fail (UNAVAILABLE) instead of waiting for a Redis that may not come back.
      this.redis = new Redis(source, {
        connectionName: 'vnf-registry',
        maxRetriesPerRequest: MAX_RETRIES_PER_REQUEST,
        commandTimeout: this.commandTimeoutMs,
        retryStrategy: (times) => Math.min(times * 100, 1000),
      });
      this.redis.on('error', (err: Error) => log('registry connection to %s: %s', this.where, err.message));
      this.owned = true;
    } else {
      this.where = `${source.options.host ?? 'localhost'}:${source.options.port ?? 6379}`;
      this.redis = source;
      this.owned = false;
    }
    // The feed's connection blocks in XREAD: no command timeout, waits through outages (its reads are sent again after
    // a reconnection), and connects when the feed starts.
    const reader = this.redis.duplicate({
      connectionName: 'vnf-registry-feed',
      maxRetriesPerRequest: null,
      commandTimeout: undefined,
      keyPrefix: '',
      lazyConnect: true,
    });
    reader.on('error', (err: Error) => log('registry feed connection to %s: %s', this.where, err.message));
    this.feed = new ChangeFeed(reader, `${this.prefix}reg:log`, `${this.prefix}reg:epoch`);
    void this.started().catch(() => undefined);
    this.scheduleReap(this.reapIntervalMs);
  }

  async write(key: RegistryKey, value: RecordValue | null, condition: WriteCondition, quota?: OwnerQuota): Promise<WriteOutcome> {
    await this.started();
    const args = [
      this.prefix,
      hex(key.collection),
      hex(key.name),
      'absent' in condition ? 'a' : String(condition.version),
      value ? '1' : '0',
      ...(value ? valueArgs(key, value) : ['', '0', '0', '0', '', '']),
      quota ? limitArg(quota.maxEntries) : '',
      quota ? limitArg(quota.maxBytes) : '-1',
      this.logLength,
    ];
    const reply = (await this.run('a write', SCRIPTS.write, args)) as [string, unknown, unknown];
    if (reply[0] === 'c') return { ok: false, reason: 'condition', current: typeof reply[1] === 'string' ? decodeRecord(reply[1]) : undefined };
    if (reply[0] === 'q') return { ok: false, reason: 'quota', entries: Number(reply[1]), bytes: Number(reply[2]) };
    const revision = Number(reply[1]);
    const record = decodeRecord(reply[2] as string);
    // The handle's own subscribers hear the change before the write resolves, in revision order with the others'.
    await this.feed.dispatched(revision, this.commandTimeoutMs);
    return { ok: true, record, revision };
  }

  async read(key: RegistryKey): Promise<StoredRecord | undefined> {
    const [stored, revision] = (await this.run('a read', SCRIPTS.read, [this.prefix, hex(key.collection), hex(key.name)])) as [string | null, number];
    // Also when absent: a read that sees a removal resolves after the subscribers heard it.
    await this.caughtUp(Number(revision));
    return typeof stored === 'string' ? decodeRecord(stored) : undefined;
  }

  async page(collection: string, after: string | undefined, maxEntries: number, maxBytes: number): Promise<{ records: StoredRecord[]; next?: string; revision: number }> {
    const args = [this.prefix, hex(collection), after === undefined ? '' : hex(after), limitArg(maxEntries), limitArg(maxBytes)];
    const reply = (await this.run('a page', SCRIPTS.page, args)) as [number, number, ...string[]];
    const records = (reply.slice(2) as string[]).map(decodeRecord);
    const revision = Number(reply[0]);
    await this.caughtUp(revision);
    const last = records[records.length - 1];
    return reply[1] === 1 && last ? { records, next: last.name, revision } : { records, revision };
  }

  async ownedBy(owner: string): Promise<StoredRecord[]> {
    const stored = (await this.run('a read of an owner', SCRIPTS.ownedBy, [this.prefix, hex(owner)])) as string[];
    return stored.map(decodeRecord).sort((a, b) => compareUnits(a.collection, b.collection) || compareUnits(a.name, b.name));
  }

  /** The entries the store holds: a counter the write and reaping scripts keep with the records. */
  async entryCount(): Promise<number> {
    if (this.closed) throw this.destroyed();
    try {
      return Number((await this.redis.get(`${this.prefix}reg:n`)) ?? 0);
    } catch (err) {
      throw this.unavailable('a count of the entries', err);
    }
  }

  async revision(): Promise<number> {
    const revision = Number(await this.run('a read of the revision', SCRIPTS.revision, [this.prefix]));
    await this.caughtUp(revision);
    return revision;
  }

  async changesSince(revision: number, limit: number): Promise<ChangesSince> {
    const asked = Number.isFinite(revision) ? Math.max(0, Math.floor(revision)) : Number.MAX_SAFE_INTEGER;
    const reply = (await this.run('a read of the change log', SCRIPTS.changesSince, [this.prefix, String(asked), limitArg(limit)])) as [
      number,
      number,
      Array<[string, string[]]>,
    ];
    const changes: StorageChange[] = reply[2].map(decodeChange);
    await this.caughtUp(Number(reply[0]));
    return { changes, truncated: reply[1] === 1, revision: Number(reply[0]) };
  }

  async subscribe(collection: string, listener: (change: StorageChange) => void): Promise<() => void> {
    if (this.closed) throw this.destroyed();
    // Registered within this call once the feed runs, as MemoryRegistryStorage does: it hears every change the
    // feed has not told yet, so none made after the call (and no write of this handle that resolved before it).
    if (!this.feed.started) await this.started();
    return this.feed.subscribe(collection, listener);
  }

  async keepAlive(owner: string, ttlMs: number): Promise<void> {
    if (!(ttlMs > 0)) throw new VnfError('INVALID_ARGUMENT', `A lease needs a positive ttlMs; got ${String(ttlMs)}.`);
    const ttl = Math.min(Math.ceil(ttlMs), Number.MAX_SAFE_INTEGER);
    await this.run('a lease', SCRIPTS.keepAlive, [this.prefix, hex(owner), String(ttl)]);
    // Checked when due, not only at the next interval.
    this.scheduleReap(Math.min(ttl + 1, MAX_TIMER_MS));
  }

  async endLease(owner: string): Promise<void> {
    await this.run('the end of a lease', SCRIPTS.endLease, [this.prefix, hex(owner)]);
  }

  /** Stops the reaping and the change feed, and quits the connections the storage opened. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      if (this.reapTimer) clearTimeout(this.reapTimer);
      this.reapTimer = null;
      await this.feed.close();
      await this.reaping;
      if (this.owned) await quit(this.redis);
    })();
    return this.closing;
  }

  /**
   * Waits until this handle's subscribers were told every change up to `revision`, so that nothing read through the
   * handle runs ahead of what they heard (a snapshot read in pages brings its pages forward with the changes its
   * subscription heard meanwhile: they must all have been heard).
   */
  private async caughtUp(revision: number): Promise<void> {
    if (this.feed.started) await this.feed.dispatched(revision, this.commandTimeoutMs);
  }

  /** Reads the store's revision once, to start the change feed after it; again after a failure. */
  private started(): Promise<void> {
    if (this.closed) return Promise.reject(this.destroyed());
    this.starting ??= this.run('a read of the revision', SCRIPTS.revision, [this.prefix]).then(
      (revision) => this.feed.start(Number(revision)),
      (err: unknown) => {
        this.starting = null;
        throw err;
      },
    );
    return this.starting;
  }

  private scheduleReap(delayMs: number): void {
    if (this.closed) return;
    const at = Date.now() + delayMs;
    if (this.reapTimer && this.reapAt <= at) return;
    if (this.reapTimer) clearTimeout(this.reapTimer);
    this.reapAt = at;
    this.reapTimer = setTimeout(() => {
      this.reapTimer = null;
      this.reapAt = Infinity;
      this.reaping ??= this.reap().finally(() => {
        this.reaping = null;
      });
    }, delayMs);
    // Reaping must not keep a process alive by itself.
    this.reapTimer.unref?.();
  }

  /** Expires the owners whose lease ran out (of any handle), then schedules the next look. */
  private async reap(): Promise<void> {
    let next = this.reapIntervalMs;
    try {
      const [applied, nextDelay] = (await this.run('a lease expiry', SCRIPTS.reap, [this.prefix, this.logLength, String(REAP_BATCH)])) as [number, number];
      if (applied > 0) log('expired leases: %d changes', applied);
      if (nextDelay >= 0) next = Math.min(next, nextDelay + 1);
    } catch (err) {
      if (!this.closed) log('expiring leases failed: %s', err instanceof Error ? err.message : String(err));
    }
    this.scheduleReap(next);
  }

  private async run(what: string, script: Script, args: string[]): Promise<unknown> {
    if (this.closed) throw this.destroyed();
    try {
      return await script.run(this.redis, args);
    } catch (err) {
      throw this.unavailable(what, err);
    }
  }

  private unavailable(what: string, err: unknown): VnfError {
    const reason = err instanceof Error ? err.message : String(err);
    return new VnfError(
      'UNAVAILABLE',
      `RedisRegistryStorage: Redis at ${this.where} did not answer ${what} (${reason}); check that Redis is running and reachable there (a write that timed out may have been applied).`,
      { cause: err },
    );
  }

  private destroyed(): VnfError {
    return new VnfError('DESTROYED', 'RedisRegistryStorage is closed: create another to use the store again.');
  }
}

/** A URL as messages show it: without credentials. */
function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}`;
  } catch {
    return 'the configured URL';
  }
}
