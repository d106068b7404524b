import { createLogger, optionsSchema } from '@vnf/core';
import type { ClaimResult, RenewedClaim, Role, RouteHolder, Router } from '@vnf/protocol';
import type { Redis } from 'ioredis';
import { REDIS_FIELDS, closeConnection, connect, requireRedis, unavailable, watchRunId, type OwnedConnection, type RedisSource } from './connection';
import { CLAIM, RECLAIM, RELEASE, RENEW } from './routerScripts';

const log = createLogger('broker-redis:router');
/** Claims one script renews or makes again. */
const CHUNK = 1_000;

export interface RedisRouterOptions {
  /** The Redis holding the routing table: a `redis://` URL (a connection of the router's own) or an ioredis client. */
  redis: RedisSource;
  /**
   * Prefix of every key the router writes; brokers of one cluster share it, clusters on one Redis differ.
   * @default 'vnf:'
   */
  keyPrefix?: string;
}

const SCHEMA = optionsSchema('RedisRouter', REDIS_FIELDS, { derive: (o) => requireRedis('RedisRouter', o) });

/** A claim made through this router, kept so that it can be made again on a Redis that restarted empty. */
interface MadeClaim {
  holder: RouteHolder;
  ttlMs: number;
}

/**
 * The Router of a cluster on Redis: one hash per eva and role (`<prefix>route:<role>:<eva>`: holder id, node,
 * session), changed only by Lua scripts so that the cross-role session rule and token takeover are atomic across
 * brokers; a claim with a TTL is a key with that expiry. Tokens are compared as SHA-1 digests inside the script, so
 * the comparison's timing says nothing about the token.
 */
export class RedisRouter implements Router {
  private readonly connection: OwnedConnection;
  private readonly prefix: string;
  private readonly made = new Map<string, MadeClaim>();
  private readonly stopWatch: () => void;
  /** Rejects every call still waiting for Redis once the router closes (a closed ioredis client may never answer them). */
  private readonly closed: Promise<never>;
  private closeCalls!: (err: Error) => void;

  constructor(options: RedisRouterOptions) {
    const { redis, keyPrefix } = SCHEMA.resolve(options);
    this.connection = connect(redis, 'vnf-router');
    this.prefix = keyPrefix;
    this.stopWatch = watchRunId(this.redis, () => void this.reclaim());
    this.closed = new Promise<never>((_, reject) => {
      this.closeCalls = reject;
    });
    this.closed.catch(() => undefined);
  }

  private get redis(): Redis {
    return this.connection.redis;
  }

  async claim(role: Role, eva: string, holder: RouteHolder, proof: string | undefined, ttlMs = Infinity): Promise<ClaimResult> {
    const key = this.key(role, eva);
    const reply = (await this.call('a claim', () =>
      this.redis.eval(CLAIM, 2, key, this.key(other(role), eva), holder.id, holder.node, holder.session, proof ?? '', proof === undefined ? '0' : '1', ttlArg(ttlMs)),
    )) as string[];
    if (reply[0] === 'in-use') return { outcome: 'in-use' };
    this.made.set(key, { holder: { id: holder.id, node: holder.node, session: reply[1] }, ttlMs });
    if (reply[0] === 'claimed') return { outcome: 'claimed', session: reply[1] };
    return { outcome: 'replaced', session: reply[1], previous: { id: reply[2], node: reply[3], session: reply[1] } };
  }

  async lookup(role: Role, eva: string): Promise<RouteHolder | undefined> {
    const [id, node, session] = await this.call('a lookup', () => this.redis.hmget(this.key(role, eva), 'id', 'node', 'session'));
    return id !== null && node !== null && session !== null ? { id, node, session } : undefined;
  }

  async release(role: Role, eva: string, holderId: string): Promise<void> {
    const key = this.key(role, eva);
    if (this.made.get(key)?.holder.id === holderId) this.made.delete(key);
    await this.call('a release', () => this.redis.eval(RELEASE, 1, key, holderId));
  }

  async renew(claims: readonly RenewedClaim[], ttlMs: number): Promise<void> {
    if (claims.length === 0) return;
    for (const { role, eva, id } of claims) {
      const made = this.made.get(this.key(role, eva));
      if (made?.holder.id === id) made.ttlMs = ttlMs;
    }
    // In chunks: one script holds Redis for its whole run, and a call's arguments are bounded (the stack spreads them).
    for (let at = 0; at < claims.length; at += CHUNK) {
      const chunk = claims.slice(at, at + CHUNK);
      const keys = chunk.map(({ role, eva }) => this.key(role, eva));
      await this.call('a renewal', () => this.redis.eval(RENEW, keys.length, ...keys, ttlArg(ttlMs), ...chunk.map((c) => c.id)));
    }
  }

  async ping(): Promise<void> {
    await this.call('a ping', () => this.redis.ping());
  }

  /** Stops watching Redis and closes the connection the router opened. */
  async close(): Promise<void> {
    this.closeCalls(new Error('the router was closed'));
    this.stopWatch();
    this.made.clear();
    await closeConnection(this.connection);
  }

  /**
   * Redis restarted (maybe empty): the claims this router made are made again where they are missing, so that its
   * endpoints stay routable without reconnecting. A claim someone else made meanwhile wins.
   */
  private async reclaim(): Promise<void> {
    log('Redis restarted: making %d claims again', this.made.size);
    const made = [...this.made];
    for (let at = 0; at < made.length; at += CHUNK) {
      const chunk = made.slice(at, at + CHUNK);
      const args = chunk.flatMap(([, { holder, ttlMs }]) => [holder.id, holder.node, holder.session, ttlArg(ttlMs)]);
      await this.redis
        .eval(RECLAIM, chunk.length, ...chunk.map(([key]) => key), ...args)
        .catch((err: unknown) => log('making %d claims again failed: %s', chunk.length, String(err)));
    }
  }

  private async call<T>(what: string, command: () => Promise<T>): Promise<T> {
    try {
      return await Promise.race([command(), this.closed]);
    } catch (err) {
      throw unavailable(what, err);
    }
  }

  private key(role: Role, eva: string): string {
    return `${this.prefix}route:${role}:${eva}`;
  }
}

function other(role: Role): Role {
  return role === 'endpoint' ? 'rpc' : 'endpoint';
}

/** A TTL as the scripts take it: milliseconds, or '' for none. */
function ttlArg(ttlMs: number): string {
  return Number.isFinite(ttlMs) ? String(Math.max(1, Math.ceil(ttlMs))) : '';
}
