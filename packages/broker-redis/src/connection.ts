import { VnfError, createLogger, option } from '@vnf/core';
import { Redis } from 'ioredis';

const log = createLogger('broker-redis');

/** A Redis to use: a `redis://` URL (a connection of its own, closed with its user) or an ioredis client (left open). */
export type RedisSource = string | Redis;

/** A connection, and whether its user must close it. */
export interface OwnedConnection {
  redis: Redis;
  owned: boolean;
}

export function isRedisSource(value: unknown): value is RedisSource {
  return (typeof value === 'string' && /^rediss?:\/\//.test(value)) || value instanceof Redis;
}

/** The options every part of the cluster takes: where Redis is and the prefix of the keys it writes. */
export const REDIS_FIELDS = {
  redis: option.custom<RedisSource>({ expected: "a redis:// URL or an ioredis client, e.g. 'redis://127.0.0.1:6379'", check: isRedisSource }),
  keyPrefix: option.string({ default: 'vnf:' }),
};

/** `redis` given: the one option without a default. */
export function requireRedis<O extends { redis: RedisSource | undefined }>(owner: string, options: O): O & { redis: RedisSource } {
  if (options.redis === undefined) throw new VnfError('INVALID_ARGUMENT', `${owner} needs redis: a redis:// URL or an ioredis client, e.g. { redis: 'redis://127.0.0.1:6379' }.`);
  return options as O & { redis: RedisSource };
}

export function connect(source: RedisSource, name: string): OwnedConnection {
  if (typeof source !== 'string') return { redis: source, owned: false };
  // Commands wait through a short outage (SIGSTOP, a restart) instead of failing after 20 retries, and a connection
  // that cannot be made yet does not throw at construction: errors reach the caller of each command.
  const redis = new Redis(source, { connectionName: name, maxRetriesPerRequest: null, lazyConnect: false });
  redis.on('error', (err: Error) => log('%s: %s', name, err.message));
  return { redis, owned: true };
}

/** A second connection beside `redis` for blocking reads (a blocked connection can send nothing else). */
export function blockingConnection(redis: Redis, name: string): Redis {
  const reader = redis.duplicate({ connectionName: name, maxRetriesPerRequest: null });
  reader.on('error', (err: Error) => log('%s: %s', name, err.message));
  return reader;
}

export async function closeConnection(connection: OwnedConnection): Promise<void> {
  if (!connection.owned) return;
  await quit(connection.redis);
}

/** Closes `redis` politely when it is up, at once otherwise (QUIT would wait for a Redis that may never come back). */
export async function quit(redis: Redis): Promise<void> {
  if (redis.status === 'end') return;
  if (redis.status !== 'ready') {
    redis.disconnect();
    return;
  }
  // A Redis that died a moment ago may still look ready: QUIT gets a second to be answered, then the socket goes.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, QUIT_TIMEOUT_MS);
  });
  await Promise.race([redis.quit().then(() => undefined, () => undefined), late]);
  clearTimeout(timer);
  redis.disconnect();
}

const QUIT_TIMEOUT_MS = 1_000;

/**
 * Disconnects a blocking reader; resolves whether its pending command will settle. A client caught between two
 * reconnection attempts never settles it (ioredis leaves it queued and emits no 'end'), but keeps nothing open
 * either: its loop is then left behind rather than awaited, which would never end.
 */
export function disconnectReader(reader: Redis): boolean {
  const stuck = reader.status === 'reconnecting';
  reader.disconnect();
  return !stuck;
}

/** A Redis failure as the callers of the seams see it. */
export function unavailable(what: string, err: unknown): VnfError {
  const reason = err instanceof Error ? err.message : String(err);
  return new VnfError('UNAVAILABLE', `Redis did not answer ${what} (${reason}); check that Redis is running and reachable at the configured URL.`);
}

/**
 * Calls `onRestart` when the Redis behind `redis` is another run than before (INFO's run_id changed): it restarted,
 * maybe empty, and what was kept there (claims, leases, streams) may be gone.
 */
export function watchRunId(redis: Redis, onRestart: () => void): () => void {
  let runId: string | undefined;
  const check = () => {
    redis
      .info('server')
      .then((info) => {
        const id = /run_id:(\w+)/.exec(info)?.[1];
        if (id === undefined) return;
        const before = runId;
        runId = id;
        if (before !== undefined && before !== id) onRestart();
      })
      .catch((err: unknown) => log('reading the run id failed: %s', String(err)));
  };
  if (redis.status === 'ready') check();
  redis.on('ready', check);
  return () => redis.off('ready', check);
}
