import type { IncomingMessage } from 'node:http';
import { VnfError, option, optionsSchema, type RegistryAuthorize, type RegistryStore } from '@vnf/core';
import { DEFAULT_MAX_VALUE_BYTES, MemoryRegistryStore, type MemoryRegistryStoreOptions } from '@vnf/registry';
import { DEFAULT_MAX_FRAME, type Bus, type Role, type Router } from '@vnf/protocol';
import { RedisCluster } from '@vnf/broker-redis';
import { MemoryBus } from './MemoryBus';
import { MemoryRouter } from './MemoryRouter';
import { defaultMaxConnections } from './serverLimits';

/** What an RPC method handler learns about its caller. */
export interface RpcContext {
  /** The eva the calling socket registered (the broker checked it; it cannot be spoofed). */
  eva: string;
  role: Role;
  /** The Origin header of the calling socket's upgrade request, if any. */
  origin: string | undefined;
  /** The calling socket's IP address. (The whole request is released after authentication; decide on headers in `authenticate`.) */
  remoteAddress: string | undefined;
  /** The client the broker counts this socket's budgets against (see `clientKey`). */
  client: string;
}

export type RpcMethod = (params: unknown, context: RpcContext) => unknown | Promise<unknown>;

/**
 * Every option of the broker. Limits are per socket or per client (see `clientKey`); each can be raised, and
 * `0` lifts it (no limit) unless said otherwise. docs/security.md lists them with the threat each one answers.
 */
export interface BrokerOptions {
  /** URL path of the WebSocket endpoint. Default '/webbroker/vnf-ws'. */
  path?: string;
  /** Largest frame accepted (and sent), bytes; bigger frames close the socket with 1009. Default 1 MiB. */
  maxPayload?: number;
  /** Decides whether a hello may register `eva`; `token` is the client's authToken. Default: everyone may. */
  authenticate?: (eva: string, token: string | undefined, request: IncomingMessage) => boolean | Promise<boolean>;
  /** Origins (e.g. 'https://app.example') browsers may connect from; requests without Origin pass. Default: any. */
  allowedOrigins?: string[];
  /** Bytes queued toward one socket (broker queue + ws buffer) before it is closed as a slow consumer (4005). Default 16 MiB. */
  sendBufferLimit?: number;
  /**
   * Bytes queued toward one socket above which the broker stops reading from the sockets relaying to it, until
   * it drains below half of this: backpressure reaches fast senders through TCP. Must be below sendBufferLimit.
   * Default 1 MiB.
   */
  relayHighWaterMark?: number;
  /** How long a socket may stay above relayHighWaterMark, holding its senders back, before it is closed as a slow consumer (4005), ms. Default 15 000. */
  slowConsumerTimeoutMs?: number;
  /**
   * Messages (records) one socket may send per second; more → error RATE_LIMITED and close 4006. A group record
   * counts as one per target of its group: fan-out does no more work per second than unicast could. Default 1 000 000.
   */
  maxMessagesPerSecond?: number;
  /**
   * Groups (server-side fan-out, docs/protocol.md "Groups") one endpoint socket may hold at once; one more is refused
   * with an `error` TOO_LARGE. Announced in the welcome. 0: this broker offers no groups (clients then send one
   * record per target). Not "no limit": each group holds its target list. Default 64.
   */
  maxGroupsPerSocket?: number;
  /** Targets one group may list (duplicates included); more → `error` TOO_LARGE. Announced in the welcome. Default 1 024. */
  maxGroupTargets?: number;
  /** Control messages (hello, ping, call, open, close, group, ungroup) one socket may send per second; more → RATE_LIMITED, close 4006. Default 2 000. */
  maxControlPerSecond?: number;
  /** Control messages one client may send per second across all its sockets; more → RATE_LIMITED, close 4006 of the socket that passed it. Default 4 000. */
  maxControlPerSecondPerClient?: number;
  /** RPC calls (registry ones included) one socket may have unanswered; one more is answered RATE_LIMITED at once. Announced in the welcome, so VNF clients queue instead. Default 16. */
  maxCallsInFlight?: number;
  /** Connection opens one socket may have unanswered (each waits for a router lookup); one more is refused RATE_LIMITED. Default 256. */
  maxOpensInFlight?: number;
  /** Largest RPC reply, bytes; a bigger one is answered TOO_LARGE (registry lists come in pages below it). Default 256 KiB; at most maxPayload − 1 KiB. */
  maxReplyBytes?: number;
  /**
   * Bytes queued toward a socket above which registry change notifications for it are dropped; once it drained
   * below half of this the broker sends one `registry.resync`, and the client lists again. A lagging watcher is
   * never closed as a slow consumer. Default 1 MiB; must be below sendBufferLimit.
   */
  watchLagBytes?: number;
  /**
   * How long the eva of a socket that dropped uncleanly (no close from the client: network loss, a missed
   * heartbeat, slow consumer, rate limit) stays reserved for its session token, its registry entries and watches
   * kept, ms. Its peers are told `lost` at once. A clean close frees the eva at once. 0: no grace. Default 5 000.
   */
  evaGraceMs?: number;
  /**
   * A socket silent this long (no frame, no pong) gets a WebSocket ping; one still silent half an interval later is
   * terminated, so a dead socket is noticed within two intervals. Sockets that keep themselves alive (VNF clients
   * ping by themselves) are never pinged. ms; 0 disables. Default 30 000.
   */
  heartbeatIntervalMs?: number;
  /** Time a new socket has to send its hello, ms (else close 4007). Default 10 000. */
  helloTimeoutMs?: number;
  /** The client a request counts against (per-client limits below). Default: its remote address (see `trustProxy`). */
  clientKey?: (request: IncomingMessage) => string;
  /**
   * Behind a reverse proxy or load balancer: `true` (one proxy) or the number of proxies in front of the broker.
   * The default clientKey then reads the client's address from X-Forwarded-For, that many entries from the right,
   * and the per-address TCP cap of `listen()` is off (every connection comes from the proxy). Default false.
   */
  trustProxy?: boolean | number;
  /** Sockets one client may hold that have not registered yet. One more is closed 4008. Default 32. */
  maxPendingPerClient?: number;
  /** Registered sockets (evas, endpoint and rpc) one client may hold at once. One more is closed 4008. Default 32. */
  maxEvasPerClient?: number;
  /** Registry watches one client may hold across its sockets; one more is refused TOO_LARGE. Default 256. */
  maxWatchesPerClient?: number;
  /**
   * Bytes of registry change notifications the broker sends one client per second across its sockets (its fan-out);
   * past it they are dropped and each socket gets one `registry.resync` once the budget has room. Default 8 MiB.
   */
  maxNotifyBytesPerSecondPerClient?: number;
  /**
   * Bytes of control messages (hellos, calls, opens: everything but relayed records) the broker reads from one
   * client per second across its sockets. Past it, its sockets are not read until the budget refilled: TCP slows the
   * client down and nothing is refused. Default 4 MiB.
   */
  maxControlBytesPerSecondPerClient?: number;
  /**
   * Bytes of RPC replies (registry lists above all) the broker sends one client per second across its sockets. Past
   * it, its sockets are not read until the budget refilled: its next calls wait in TCP, none is refused. Default 16 MiB.
   */
  maxReplyBytesPerSecondPerClient?: number;
  /** `listen()` only: most TCP connections its server accepts at once. Default 80 % of the process's descriptor limit. */
  maxConnections?: number;
  /** `listen()` only: most TCP connections from one remote address (off with trustProxy). Default 256. */
  maxConnectionsPerAddress?: number;
  /** `listen()` only: time a connection has to send its HTTP headers (the upgrade request), ms. Default 10 000. */
  headersTimeoutMs?: number;
  /** `listen()` only: time a connection has to send its whole HTTP request, ms. Default 15 000. */
  requestTimeoutMs?: number;
  /** Limits of the default registry store (ignored with `registryStore`): see MemoryRegistryStoreOptions. */
  registry?: MemoryRegistryStoreOptions;
  /** Where registry entries live. Default a new MemoryRegistryStore with the `registry` limits. */
  registryStore?: RegistryStore;
  /**
   * Decides what each socket may read and write in the registry: `authorize({ eva, role, auth, remoteAddress },
   * action, resource)` with action 'read' or 'write' and resource `{ collection, name?, retained?, owner? }`.
   * Default `defaultAuthorize` (from @vnf/core): anyone reads, an entry's owner writes it, nobody writes retained
   * entries. A hook that allows retained entries somewhere usually defers the rest to defaultAuthorize.
   */
  authorize?: RegistryAuthorize;
  /**
   * How long a claim on the router outlives the broker that holds it, ms: the broker renews the claims of its
   * sockets (and the owner leases of their registry entries) every third of it, so when a broker of a cluster dies
   * its evas and entries free themselves after this. 0: claims and leases never expire. Default 30 000.
   */
  claimTtlMs?: number;
  /** Which eva is on which socket. Default a new MemoryRouter. */
  router?: Router;
  /**
   * The channel to the other brokers sharing `router` (and a `registryStore`): endpoints on different brokers then
   * talk as if on one. Default: a bus of this broker alone. Share one `MemoryBus` between brokers of one process.
   */
  bus?: Bus;
  /** Extra RPC methods served to every registered socket (names must not start with 'registry.'). Default none. */
  methods?: Record<string, RpcMethod>;
  /**
   * Joins a cluster on Redis (docs/cluster.md): the router, the bus and the registry store are then on this Redis,
   * shared by every broker given the same URL and key prefix, and endpoints on different brokers talk as if on one.
   * A `redis://` URL, or `{ url, keyPrefix ('vnf:'), nodeTtlMs (15 000) }`. Not with `router`, `bus` or
   * `registryStore`; `registry` sets the limits of the store on Redis. Default: none, a broker of its own.
   */
  redis?: string | BrokerRedisOptions;
}

/** The `redis` option in full. */
export interface BrokerRedisOptions {
  /** `redis://host:port` (or `rediss://` for TLS). */
  url: string;
  /** Prefix of every key the cluster writes: brokers of one cluster share it, clusters on one Redis differ. Default 'vnf:'. */
  keyPrefix?: string;
  /** How long a broker's lease outlives its last renewal, ms (it renews every third): when a broker dies, its peers on other brokers hear their connections are lost this long after. Default 15 000. */
  nodeTtlMs?: number;
}

export interface ResolvedOptions {
  path: string;
  maxPayload: number;
  authenticate: BrokerOptions['authenticate'];
  allowedOrigins: Set<string> | null;
  sendBufferLimit: number;
  relayHighWaterMark: number;
  slowConsumerTimeoutMs: number;
  maxMessagesPerSecond: number;
  maxControlPerSecond: number;
  maxControlPerSecondPerClient: number;
  maxGroupsPerSocket: number;
  maxGroupTargets: number;
  maxCallsInFlight: number;
  maxOpensInFlight: number;
  maxReplyBytes: number;
  watchLagBytes: number;
  evaGraceMs: number;
  heartbeatIntervalMs: number;
  helloTimeoutMs: number;
  clientKey: (request: IncomingMessage) => string;
  trustProxy: number;
  maxPendingPerClient: number;
  maxEvasPerClient: number;
  maxWatchesPerClient: number;
  maxNotifyBytesPerSecondPerClient: number;
  maxControlBytesPerSecondPerClient: number;
  maxReplyBytesPerSecondPerClient: number;
  maxConnections: number;
  maxConnectionsPerAddress: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  registryStore: RegistryStore;
  authorize: RegistryAuthorize | undefined;
  router: Router;
  bus: Bus;
  claimTtlMs: number;
  methods: Map<string, RpcMethod>;
  /** The cluster on Redis the `redis` option made (the broker closes it), or null. */
  cluster: RedisCluster | null;
}

export const DEFAULT_PATH = '/webbroker/vnf-ws';
/** Room in a frame for a reply's envelope (record header, JSON of the call id and kind). */
const REPLY_ENVELOPE_BYTES = 1024;

const MiB = 1024 * 1024;
/** A limit: a positive integer, or 0 for none (Infinity). */
const limit = (fallback: number) => option.integer({ min: 0, default: fallback, zeroMeansNoLimit: true });

const SCHEMA = optionsSchema(
  'Broker',
  {
    path: option.custom<string>({ default: DEFAULT_PATH, check: (p) => typeof p === 'string' && p.startsWith('/'), expected: "a path starting with '/'" }),
    maxPayload: option.integer({ min: 4096, default: DEFAULT_MAX_FRAME }),
    authenticate: option.function<NonNullable<BrokerOptions['authenticate']>>({ expected: 'a function (eva, token, request) => boolean | Promise<boolean>' }),
    allowedOrigins: option.custom<readonly string[]>({
      check: (o) => Array.isArray(o) && o.every((x) => typeof x === 'string'),
      expected: "an array of origins such as 'https://app.example'",
    }),
    sendBufferLimit: option.integer({ min: 1, default: 16 * MiB }),
    relayHighWaterMark: option.integer({ min: 1 }),
    slowConsumerTimeoutMs: option.integer({ min: 1, default: 15_000 }),
    maxMessagesPerSecond: limit(1_000_000),
    maxControlPerSecond: limit(2_000),
    maxControlPerSecondPerClient: limit(4_000),
    maxGroupsPerSocket: option.integer({ min: 0, default: 64, expected: 'an integer of at least 0 (0: no groups offered)' }),
    maxGroupTargets: option.integer({ min: 1, default: 1024 }),
    maxCallsInFlight: limit(16),
    maxOpensInFlight: limit(256),
    maxReplyBytes: option.integer({ min: 0, expected: 'an integer of at least 16 KiB, or 0 for the largest a frame holds' }),
    watchLagBytes: option.integer({ min: 1 }),
    evaGraceMs: option.integer({ min: 0, default: 5_000 }),
    heartbeatIntervalMs: option.integer({ min: 0, default: 30_000 }),
    helloTimeoutMs: option.integer({ min: 1, default: 10_000 }),
    clientKey: option.function<(request: IncomingMessage) => string>({ expected: 'a function (request) => string, e.g. (req) => req.headers["x-user"] ?? req.socket.remoteAddress' }),
    trustProxy: option.custom<boolean | number>({
      default: false,
      check: (v) => typeof v === 'boolean' || (Number.isSafeInteger(v) && (v as number) >= 0),
      expected: 'true, false or the number of proxies in front of the broker',
    }),
    maxPendingPerClient: limit(32),
    maxEvasPerClient: limit(32),
    maxWatchesPerClient: limit(256),
    maxNotifyBytesPerSecondPerClient: limit(8 * MiB),
    maxControlBytesPerSecondPerClient: limit(4 * MiB),
    maxReplyBytesPerSecondPerClient: limit(4 * MiB),
    maxConnections: option.integer({ min: 0, zeroMeansNoLimit: true }),
    maxConnectionsPerAddress: limit(256),
    headersTimeoutMs: option.integer({ min: 0, default: 10_000 }),
    requestTimeoutMs: option.integer({ min: 0, default: 15_000 }),
    registry: option.object<MemoryRegistryStoreOptions>({ expected: 'the limits of the default store, e.g. { maxValueBytes: 65536 }' }),
    authorize: option.function<RegistryAuthorize>({ expected: 'a function (subject, action, resource) => boolean | Promise<boolean>' }),
    registryStore: option.object<RegistryStore>({ expected: 'a RegistryStore such as new MemoryRegistryStore()', check: (s) => typeof s.create === 'function' }),
    router: option.object<Router>({
      expected: 'a Router (claim, lookup, release, renew), such as new MemoryRouter()',
      check: (r) => typeof r.claim === 'function' && typeof r.lookup === 'function' && typeof r.release === 'function' && typeof r.renew === 'function',
    }),
    claimTtlMs: option.integer({ min: 0, default: 30_000, zeroMeansNoLimit: true }),
    bus: option.object<Bus>({ expected: 'a Bus (join), such as a MemoryBus shared by the brokers', check: (b) => typeof b.join === 'function' }),
    methods: option.object<Record<string, RpcMethod>>({ expected: 'an object of RPC method handlers' }),
    redis: option.custom<string | BrokerRedisOptions>({
      check: (r) => isRedisUrl(r) || (typeof r === 'object' && r !== null && isRedisUrl((r as BrokerRedisOptions).url)),
      expected: "a redis:// URL such as 'redis://127.0.0.1:6379', or { url, keyPrefix, nodeTtlMs }",
    }),
  },
  {
    derive: (o): ResolvedOptions => {
      const { sendBufferLimit, maxPayload } = o;
      const relayHighWaterMark = o.relayHighWaterMark ?? Math.min(MiB, sendBufferLimit / 2);
      if (relayHighWaterMark >= sendBufferLimit) throw invalid(`relayHighWaterMark (${relayHighWaterMark}) must be below sendBufferLimit (${sendBufferLimit}).`);
      if (sendBufferLimit < maxPayload) throw invalid(`sendBufferLimit (${sendBufferLimit}) must be at least maxPayload (${maxPayload}).`);
      const watchLagBytes = o.watchLagBytes ?? Math.min(MiB, sendBufferLimit / 2);
      if (watchLagBytes >= sendBufferLimit) throw invalid(`watchLagBytes (${watchLagBytes}) must be below sendBufferLimit (${sendBufferLimit}).`);
      const replyCap = maxPayload - REPLY_ENVELOPE_BYTES;
      const maxReplyBytes = o.maxReplyBytes === undefined ? Math.min(256 * 1024, replyCap) : o.maxReplyBytes === 0 ? replyCap : o.maxReplyBytes;
      if (maxReplyBytes > replyCap) throw invalid(`maxReplyBytes must be at most ${replyCap} (maxPayload less a reply's envelope); got ${maxReplyBytes}.`);
      if (maxReplyBytes < Math.min(16 * 1024, replyCap)) {
        throw invalid(`maxReplyBytes must be at least ${Math.min(16 * 1024, replyCap)} (or 0 for the largest a frame holds); got ${maxReplyBytes}.`);
      }
      const methods = new Map<string, RpcMethod>();
      for (const [name, handler] of Object.entries(o.methods ?? {})) {
        if (typeof handler !== 'function') throw invalid(`methods.${name} must be a function.`);
        if (name.startsWith('registry.')) throw invalid(`methods.${name}: names starting with 'registry.' belong to the registry.`);
        methods.set(name, handler);
      }
      if (o.registryStore !== undefined && o.registry !== undefined) {
        throw invalid('Give either registryStore or registry (the limits of the default store), not both: set the limits on your store.');
      }
      if (o.redis !== undefined && (o.router !== undefined || o.bus !== undefined || o.registryStore !== undefined)) {
        throw invalid('Give either redis (a cluster on Redis makes the router, bus and registry store) or router, bus and registryStore, not both.');
      }
      if (o.redis !== undefined && !Number.isFinite(o.claimTtlMs)) {
        throw invalid("claimTtlMs 0 (claims that never run out) cannot be used with redis: a dead broker's evas would stay claimed forever. Give a TTL such as 30000.");
      }
      const nodeTtlMs = typeof o.redis === 'object' ? (o.redis.nodeTtlMs ?? 15_000) : 15_000;
      if (o.redis !== undefined && o.claimTtlMs <= nodeTtlMs) {
        throw invalid(`claimTtlMs (${o.claimTtlMs}) must be longer than redis.nodeTtlMs (${nodeTtlMs}): a dead broker's peers must hear it is gone before its evas are free.`);
      }
      const trustProxy = o.trustProxy === true ? 1 : o.trustProxy === false ? 0 : o.trustProxy;
      const registryLimits = storeLimits(o.registry ?? {}, maxReplyBytes);
      const cluster = o.redis === undefined ? null : redisCluster(o.redis, registryLimits);
      return {
        ...o,
        allowedOrigins: o.allowedOrigins ? new Set(o.allowedOrigins) : null,
        relayHighWaterMark,
        watchLagBytes,
        maxReplyBytes,
        trustProxy,
        clientKey: o.clientKey ?? ((request) => forwardedAddress(request, trustProxy)),
        maxConnections: o.maxConnections ?? defaultMaxConnections(),
        registryStore: cluster?.registryStore ?? o.registryStore ?? new MemoryRegistryStore(registryLimits),
        router: cluster?.router ?? o.router ?? new MemoryRouter(),
        bus: cluster?.bus ?? o.bus ?? new MemoryBus(),
        methods,
        cluster,
      };
    },
  },
);

/** Every option checked (unknown names refused, naming the nearest), defaults filled in; docs/security.md lists each limit. */
export function resolveOptions(options: BrokerOptions): ResolvedOptions {
  return SCHEMA.resolve(options);
}

/** Room an entry takes in a reply besides its value: its names JSON-escaped at worst, owner, version. */
const ENTRY_ENVELOPE_BYTES = 6 * 1024;

/** The limits of the default store (in memory or on Redis): its values small enough that any entry fits in one reply. */
function storeLimits(limits: MemoryRegistryStoreOptions, maxReplyBytes: number): MemoryRegistryStoreOptions {
  // With tiny frames the worst-case envelope would leave nothing: a quarter of a reply is kept for the value then.
  const fits = Math.max(Math.floor(maxReplyBytes / 4), maxReplyBytes - 2048 - ENTRY_ENVELOPE_BYTES);
  if (limits.maxValueBytes !== undefined && limits.maxValueBytes > fits) {
    throw invalid(`registry.maxValueBytes (${limits.maxValueBytes}) must be at most ${fits}, so that every entry fits in a reply of maxReplyBytes (${maxReplyBytes}).`);
  }
  return { maxValueBytes: Math.min(DEFAULT_MAX_VALUE_BYTES, fits), ...limits };
}

function isRedisUrl(value: unknown): value is string {
  return typeof value === 'string' && /^rediss?:\/\//.test(value);
}

function redisCluster(redis: string | BrokerRedisOptions, limits: MemoryRegistryStoreOptions): RedisCluster {
  const { url, ...rest } = typeof redis === 'string' ? { url: redis } : redis;
  const { maxLogBytes: _ignored, ...registry } = limits;
  try {
    return new RedisCluster({ ...rest, redis: url, registry });
  } catch (err) {
    // Its options are the broker's: name them as the broker's.
    throw err instanceof VnfError ? invalid(`redis: ${err.message}`) : err;
  }
}

/** The client's address: the socket's, or with `proxies` trusted proxies in front, the one they forwarded. */
export function forwardedAddress(request: IncomingMessage, proxies: number): string {
  const direct = request.socket.remoteAddress ?? 'unknown';
  if (proxies === 0) return direct;
  const header = request.headers['x-forwarded-for'];
  const hops = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',').map((h) => h.trim()).filter(Boolean);
  // Entries are appended by each proxy: the rightmost `proxies` ones were written by proxies we trust.
  return hops.length >= proxies ? hops[hops.length - proxies] : (hops[0] ?? direct);
}

export function validPath(path: unknown): string {
  if (typeof path !== 'string' || !path.startsWith('/')) throw invalid(`path must start with '/'; got ${JSON.stringify(path)}.`);
  return path;
}

function invalid(message: string): VnfError {
  return new VnfError('INVALID_ARGUMENT', message);
}
