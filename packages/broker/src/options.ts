import type { IncomingMessage } from 'node:http';
import { VnfError, type RegistryStore } from '@vnf/core';
import { DEFAULT_MAX_VALUE_BYTES, MemoryRegistryStore, type MemoryRegistryStoreOptions } from '@vnf/registry';
import { DEFAULT_MAX_FRAME, type Role } from '@vnf/websocket-hub';
import { MemoryRouter } from './MemoryRouter';
import type { Router } from './Router';
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
  /** Messages (records) one socket may send per second; more → error RATE_LIMITED and close 4006. Default 1 000 000. */
  maxMessagesPerSecond?: number;
  /** Control messages (hello, ping, call, open, close) one socket may send per second; more → RATE_LIMITED, close 4006. Default 2 000. */
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
  /** Ping interval, ms; a socket that did not answer the previous ping is terminated. 0 disables. Default 30 000. */
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
  /** Which eva is on which socket. Default a new MemoryRouter. */
  router?: Router;
  /** Extra RPC methods served to every registered socket (names must not start with 'registry.'). Default none. */
  methods?: Record<string, RpcMethod>;
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
  router: Router;
  methods: Map<string, RpcMethod>;
}

export const DEFAULT_PATH = '/webbroker/vnf-ws';
/** Room in a frame for a reply's envelope (record header, JSON of the call id and kind). */
const REPLY_ENVELOPE_BYTES = 1024;

const KNOWN = new Set<string>([
  'path', 'maxPayload', 'authenticate', 'allowedOrigins', 'sendBufferLimit', 'relayHighWaterMark', 'slowConsumerTimeoutMs',
  'maxMessagesPerSecond', 'maxControlPerSecond', 'maxControlPerSecondPerClient', 'maxCallsInFlight', 'maxOpensInFlight', 'maxReplyBytes', 'watchLagBytes', 'evaGraceMs',
  'heartbeatIntervalMs', 'helloTimeoutMs', 'clientKey', 'trustProxy', 'maxPendingPerClient', 'maxEvasPerClient',
  'maxWatchesPerClient', 'maxNotifyBytesPerSecondPerClient', 'maxControlBytesPerSecondPerClient', 'maxReplyBytesPerSecondPerClient', 'maxConnections', 'maxConnectionsPerAddress', 'headersTimeoutMs', 'requestTimeoutMs', 'registry',
  'registryStore', 'router', 'methods',
]);

export function resolveOptions(options: BrokerOptions): ResolvedOptions {
  if (options === null || typeof options !== 'object') throw invalid('Broker options must be an object when given.');
  for (const name of Object.keys(options)) {
    if (!KNOWN.has(name)) throw invalid(`Unknown broker option "${name}". See BrokerOptions (docs/security.md lists every limit).`);
  }
  const path = validPath(options.path ?? DEFAULT_PATH);
  const maxPayload = integer('maxPayload', options.maxPayload ?? DEFAULT_MAX_FRAME, 4096);
  const sendBufferLimit = integer('sendBufferLimit', options.sendBufferLimit ?? 16 * 1024 * 1024, maxPayload);
  const relayHighWaterMark = integer('relayHighWaterMark', options.relayHighWaterMark ?? Math.min(1024 * 1024, sendBufferLimit / 2), 1);
  if (relayHighWaterMark >= sendBufferLimit) {
    throw invalid(`relayHighWaterMark (${relayHighWaterMark}) must be below sendBufferLimit (${sendBufferLimit}).`);
  }
  const watchLagBytes = integer('watchLagBytes', options.watchLagBytes ?? Math.min(1024 * 1024, sendBufferLimit / 2), 1);
  if (watchLagBytes >= sendBufferLimit) throw invalid(`watchLagBytes (${watchLagBytes}) must be below sendBufferLimit (${sendBufferLimit}).`);
  const replyCap = maxPayload - REPLY_ENVELOPE_BYTES;
  const maxReplyBytes = limit('maxReplyBytes', options.maxReplyBytes, Math.min(256 * 1024, replyCap), replyCap);
  if (maxReplyBytes < Math.min(16 * 1024, replyCap)) {
    throw invalid(`maxReplyBytes must be at least ${Math.min(16 * 1024, replyCap)} (or 0 for the largest a frame holds); got ${maxReplyBytes}.`);
  }
  if (options.authenticate !== undefined && typeof options.authenticate !== 'function') {
    throw invalid('authenticate must be a function (eva, token, request) => boolean | Promise<boolean>.');
  }
  if (options.clientKey !== undefined && typeof options.clientKey !== 'function') {
    throw invalid('clientKey must be a function (request) => string, e.g. (req) => req.headers["x-user"] ?? req.socket.remoteAddress.');
  }
  const trustProxy = proxies(options.trustProxy);
  let allowedOrigins: Set<string> | null = null;
  if (options.allowedOrigins !== undefined) {
    if (!Array.isArray(options.allowedOrigins) || !options.allowedOrigins.every((o) => typeof o === 'string')) {
      throw invalid("allowedOrigins must be an array of origins such as 'https://app.example'.");
    }
    allowedOrigins = new Set(options.allowedOrigins);
  }
  const methods = new Map<string, RpcMethod>();
  for (const [name, handler] of Object.entries(options.methods ?? {})) {
    if (typeof handler !== 'function') throw invalid(`methods.${name} must be a function.`);
    if (name.startsWith('registry.')) throw invalid(`methods.${name}: names starting with 'registry.' belong to the registry.`);
    methods.set(name, handler);
  }
  const router = options.router ?? new MemoryRouter();
  if (typeof router.claim !== 'function' || typeof router.lookup !== 'function' || typeof router.release !== 'function') {
    throw invalid('router must implement claim, lookup and release (see Router).');
  }
  if (options.registryStore !== undefined && options.registry !== undefined) {
    throw invalid('Give either registryStore or registry (the limits of the default store), not both: set the limits on your store.');
  }
  return {
    path,
    maxPayload,
    authenticate: options.authenticate,
    allowedOrigins,
    sendBufferLimit,
    relayHighWaterMark,
    slowConsumerTimeoutMs: integer('slowConsumerTimeoutMs', options.slowConsumerTimeoutMs ?? 15_000, 1),
    maxMessagesPerSecond: limit('maxMessagesPerSecond', options.maxMessagesPerSecond, 1_000_000),
    maxControlPerSecond: limit('maxControlPerSecond', options.maxControlPerSecond, 2_000),
    maxControlPerSecondPerClient: limit('maxControlPerSecondPerClient', options.maxControlPerSecondPerClient, 4_000),
    maxCallsInFlight: limit('maxCallsInFlight', options.maxCallsInFlight, 16),
    maxOpensInFlight: limit('maxOpensInFlight', options.maxOpensInFlight, 256),
    maxReplyBytes,
    watchLagBytes,
    evaGraceMs: integer('evaGraceMs', options.evaGraceMs ?? 5_000, 0),
    heartbeatIntervalMs: integer('heartbeatIntervalMs', options.heartbeatIntervalMs ?? 30_000, 0),
    helloTimeoutMs: integer('helloTimeoutMs', options.helloTimeoutMs ?? 10_000, 1),
    clientKey: options.clientKey ?? ((request) => forwardedAddress(request, trustProxy)),
    trustProxy,
    maxPendingPerClient: limit('maxPendingPerClient', options.maxPendingPerClient, 32),
    maxEvasPerClient: limit('maxEvasPerClient', options.maxEvasPerClient, 32),
    maxWatchesPerClient: limit('maxWatchesPerClient', options.maxWatchesPerClient, 256),
    maxNotifyBytesPerSecondPerClient: limit('maxNotifyBytesPerSecondPerClient', options.maxNotifyBytesPerSecondPerClient, 8 * 1024 * 1024),
    maxControlBytesPerSecondPerClient: limit('maxControlBytesPerSecondPerClient', options.maxControlBytesPerSecondPerClient, 4 * 1024 * 1024),
    maxReplyBytesPerSecondPerClient: limit('maxReplyBytesPerSecondPerClient', options.maxReplyBytesPerSecondPerClient, 4 * 1024 * 1024),
    maxConnections: limit('maxConnections', options.maxConnections, defaultMaxConnections()),
    maxConnectionsPerAddress: limit('maxConnectionsPerAddress', options.maxConnectionsPerAddress, 256),
    headersTimeoutMs: integer('headersTimeoutMs', options.headersTimeoutMs ?? 10_000, 0),
    requestTimeoutMs: integer('requestTimeoutMs', options.requestTimeoutMs ?? 15_000, 0),
    registryStore: options.registryStore ?? defaultStore(options.registry ?? {}, maxReplyBytes),
    router,
    methods,
  };
}

/** Room an entry takes in a reply besides its value: its names JSON-escaped at worst, owner, version. */
const ENTRY_ENVELOPE_BYTES = 6 * 1024;

/** The default store, its values small enough that any entry fits in one reply. */
function defaultStore(limits: MemoryRegistryStoreOptions, maxReplyBytes: number): MemoryRegistryStore {
  // With tiny frames the worst-case envelope would leave nothing: a quarter of a reply is kept for the value then.
  const fits = Math.max(Math.floor(maxReplyBytes / 4), maxReplyBytes - 2048 - ENTRY_ENVELOPE_BYTES);
  if (limits.maxValueBytes !== undefined && limits.maxValueBytes > fits) {
    throw invalid(`registry.maxValueBytes (${limits.maxValueBytes}) must be at most ${fits}, so that every entry fits in a reply of maxReplyBytes (${maxReplyBytes}).`);
  }
  return new MemoryRegistryStore({ maxValueBytes: Math.min(DEFAULT_MAX_VALUE_BYTES, fits), ...limits });
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

function proxies(value: unknown): number {
  if (value === undefined || value === false) return 0;
  if (value === true) return 1;
  if (Number.isSafeInteger(value) && (value as number) >= 0) return value as number;
  throw invalid(`trustProxy must be true, false or the number of proxies in front of the broker; got ${String(value)}.`);
}

function integer(name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) throw invalid(`${name} must be an integer of at least ${min}; got ${value}.`);
  return value;
}

/** A limit: a positive integer, or 0 for none (Infinity); `cap` bounds what 0 and larger values mean. */
function limit(name: string, value: number | undefined, fallback: number, cap = Infinity): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < 0) throw invalid(`${name} must be an integer >= 0 (0: no limit); got ${String(value)}.`);
  if (v > cap) throw invalid(`${name} must be at most ${cap}; got ${v}.`);
  return v === 0 ? cap : v;
}

function invalid(message: string): VnfError {
  return new VnfError('INVALID_ARGUMENT', message);
}
