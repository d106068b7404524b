import { optionsSchema } from '@vnf/core';
import { RegistryRules, STORE_LIMIT_FIELDS, type MemoryRegistryStoreOptions } from '@vnf/registry';
import { REDIS_FIELDS, requireRedis, type RedisSource } from './connection';
import { RedisRegistryStorage } from './RedisRegistryStorage';

export interface RedisRegistryStoreOptions extends Omit<MemoryRegistryStoreOptions, 'maxLogBytes'> {
  /** The Redis holding the entries: a `redis://` URL (connections of the store's own) or an ioredis client. */
  redis: RedisSource;
  /**
   * Prefix of every key the store writes; brokers of one cluster share it.
   * @default 'vnf:'
   */
  keyPrefix?: string;
}

// The change log on Redis is bounded by entries (a stream's MAXLEN); it has no byte bound of its own.
const { maxLogBytes: _bytes, ...LIMITS } = STORE_LIMIT_FIELDS;
const SCHEMA = optionsSchema('RedisRegistryStore', { ...REDIS_FIELDS, ...LIMITS }, { derive: (o) => requireRedis('RedisRegistryStore', o) });

/**
 * The registry on Redis: the registry's rules (RegistryRules, as in MemoryRegistryStore) over a RedisRegistryStorage,
 * so brokers sharing one Redis share one registry — entries, watches, waits, wills and leases — with exactly the
 * limits and codes of the single broker.
 */
export class RedisRegistryStore extends RegistryRules {
  constructor(options: RedisRegistryStoreOptions) {
    const { redis, keyPrefix, maxLogEntries, ...limits } = SCHEMA.resolve(options);
    super(new RedisRegistryStorage({ redis, keyPrefix, changeLogLength: maxLogEntries }), limits);
  }

  /** Stops the rooms' state countdowns, then the storage (its timers and the connections it opened); the entries stay. */
  override async close(): Promise<void> {
    await super.close();
    await this.storage.close();
  }
}
