import { option, optionsSchema } from '@vnf/core';
import type { Redis } from 'ioredis';
import type { MemoryRegistryStoreOptions } from '@vnf/registry';
import { REDIS_FIELDS, closeConnection, connect, requireRedis, type OwnedConnection, type RedisSource } from './connection';
import { RedisBus } from './RedisBus';
import { RedisRegistryStore } from './RedisRegistryStore';
import { RedisRouter } from './RedisRouter';

export interface RedisClusterOptions {
  /** The Redis the brokers share: a `redis://` URL (one command connection, plus one blocking reader per part) or an ioredis client. */
  redis: RedisSource;
  /**
   * Prefix of every key; the brokers of one cluster share it, clusters on one Redis differ.
   * @default 'vnf:'
   */
  keyPrefix?: string;
  /** The broker's lease, ms: see RedisBusOptions.nodeTtlMs. @default 15000 */
  nodeTtlMs?: number;
  /** Limits of the registry (as MemoryRegistryStoreOptions, without maxLogBytes). */
  registry?: Omit<MemoryRegistryStoreOptions, 'maxLogBytes'>;
}

const SCHEMA = optionsSchema(
  'RedisCluster',
  {
    ...REDIS_FIELDS,
    nodeTtlMs: option.integer({ min: 30, max: 2 ** 31 - 1, default: 15_000 }),
    registry: option.object<Omit<MemoryRegistryStoreOptions, 'maxLogBytes'>>({ expected: 'the registry limits, e.g. { maxValueBytes: 65536 }' }),
  },
  { derive: (o) => requireRedis('RedisCluster', o) },
);

/**
 * What one broker needs to join a cluster on Redis — a router, a bus and a registry store on one connection — as
 * `new Broker({ router, bus, registryStore })` takes them (the broker's `redis` option builds one of these).
 */
export class RedisCluster {
  readonly router: RedisRouter;
  readonly bus: RedisBus;
  readonly registryStore: RedisRegistryStore;
  private readonly connection: OwnedConnection;

  constructor(options: RedisClusterOptions) {
    const { redis, keyPrefix, nodeTtlMs, registry } = SCHEMA.resolve(options);
    // The store's limits are checked before anything connects: a refused option leaves nothing open.
    const store = (shared: Redis) => new RedisRegistryStore({ ...registry, redis: shared, keyPrefix });
    this.connection = connect(redis, 'vnf-broker');
    const shared = this.connection.redis;
    try {
      this.registryStore = store(shared);
    } catch (err) {
      void closeConnection(this.connection);
      throw err;
    }
    this.router = new RedisRouter({ redis: shared, keyPrefix });
    this.bus = new RedisBus({ redis: shared, keyPrefix, nodeTtlMs });
  }

  /** Whether Redis answers (a broker's readiness). */
  ping(): Promise<void> {
    return this.router.ping();
  }

  /** Closes the bus (its members leave), the store and the router, then the connection it opened. */
  async close(): Promise<void> {
    await this.bus.close();
    await this.registryStore.close();
    await this.router.close();
    await closeConnection(this.connection);
  }
}

export type { RedisSource };
