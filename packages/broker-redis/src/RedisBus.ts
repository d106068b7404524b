import { VnfError, createLogger, option, optionsSchema } from '@vnf/core';
import type { Bus, BusMember, BusMessage } from '@vnf/protocol';
import type { Redis } from 'ioredis';
import { BusMembership } from './BusMembership';
import { REDIS_FIELDS, closeConnection, connect, requireRedis, type OwnedConnection, type RedisSource } from './connection';

const log = createLogger('broker-redis:bus');

export interface RedisBusOptions {
  /** The Redis the brokers talk through: a `redis://` URL (connections of the bus's own) or an ioredis client. */
  redis: RedisSource;
  /**
   * Prefix of every key the bus writes; brokers of one cluster share it.
   * @default 'vnf:'
   */
  keyPrefix?: string;
  /**
   * How long a broker's lease lasts, ms; it renews it every third. A broker that stops renewing is reaped by a
   * survivor this long after its last renewal: its peers on other brokers are told their connections are lost.
   * It must outlast the longest stall of a live broker's event loop or of Redis (a SIGSTOP, a failover).
   * @default 15000
   */
  nodeTtlMs?: number;
  /**
   * Entries one read takes from a broker's stream (each holds a batch of up to 256 KiB of messages), so that a
   * busy broker's reads stay bounded.
   * @default 64
   */
  readCount?: number;
}

const SCHEMA = optionsSchema(
  'RedisBus',
  {
    ...REDIS_FIELDS,
    nodeTtlMs: option.integer({ min: 30, max: 2 ** 31 - 1, default: 15_000 }),
    readCount: option.integer({ min: 1, max: 10_000, default: 64 }),
  },
  { derive: (o) => requireRedis('RedisBus', o) },
);

/** What a membership needs of its bus. */
export interface BusHost {
  readonly redis: Redis;
  readonly prefix: string;
  readonly nodeTtlMs: number;
  readonly readCount: number;
  left(member: BusMembership, done: Promise<void>): void;
}

/**
 * The Bus of a cluster on Redis: each broker reads a stream of its own (`<prefix>bus:<node>`), and a broker sends
 * to another by appending to that one's stream — batched per tick into one entry, in order per pair of brokers
 * (one connection writes them). A broker reads its stream at its own pace, so Redis never holds a reply it cannot
 * send (nothing like pub/sub's output-buffer limit can disconnect it) and nothing is dropped when a receiver is
 * slow: the relay's flow control (`hold`/`release`) holds the sender back, as on one broker. Liveness is a lease
 * per broker in a sorted set, renewed by the broker, reaped atomically by any survivor (busScripts.ts).
 */
export class RedisBus implements Bus, BusHost {
  readonly prefix: string;
  readonly nodeTtlMs: number;
  readonly readCount: number;
  private readonly connection: OwnedConnection;
  private readonly members = new Set<BusMembership>();
  /** Members still leaving: close waits for them before it closes the connection they leave through. */
  private readonly departures = new Set<Promise<void>>();
  private closed = false;

  constructor(options: RedisBusOptions) {
    const { redis, keyPrefix, nodeTtlMs, readCount } = SCHEMA.resolve(options);
    this.connection = connect(redis, 'vnf-bus');
    this.prefix = keyPrefix;
    this.nodeTtlMs = nodeTtlMs;
    this.readCount = readCount;
  }

  get redis(): Redis {
    return this.connection.redis;
  }

  join(node: string, receive: (message: BusMessage) => void): BusMember {
    if (this.closed) throw new VnfError('DESTROYED', 'This RedisBus is closed; create another for a new broker.');
    if (typeof node !== 'string' || node.length === 0) throw new VnfError('INVALID_ARGUMENT', 'A bus member needs a node id.');
    for (const member of this.members) {
      if (member.node === node) throw new VnfError('INVALID_ARGUMENT', `Node "${node}" already joined this bus; give each broker its own node id.`);
    }
    const member = new BusMembership(this, node, receive);
    this.members.add(member);
    log('%s joined', node);
    return member;
  }

  left(member: BusMembership, done: Promise<void>): void {
    this.members.delete(member);
    this.departures.add(done);
    void done.then(() => this.departures.delete(done));
  }

  /** Every member leaves (the others are told they are down); the connection the bus opened closes. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.members].map((member) => member.leaveAndWait()));
    await Promise.all([...this.departures]);
    await closeConnection(this.connection);
  }
}
