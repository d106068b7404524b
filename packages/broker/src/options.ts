import type { IncomingMessage } from 'node:http';
import { VnfError, type RegistryStore } from '@vnf/core';
import { MemoryRegistryStore } from '@vnf/registry';
import { DEFAULT_MAX_FRAME, type Role } from '@vnf/websocket-hub';
import { MemoryRouter } from './MemoryRouter';
import type { Router } from './Router';

/** What an RPC method handler learns about its caller. */
export interface RpcContext {
  /** The eva the calling socket registered (the broker checked it; it cannot be spoofed). */
  eva: string;
  role: Role;
  /** The Origin header of the calling socket's upgrade request, if any. */
  origin: string | undefined;
  /** The calling socket's IP address. (The whole request is released after authentication; decide on headers in `authenticate`.) */
  remoteAddress: string | undefined;
}

export type RpcMethod = (params: unknown, context: RpcContext) => unknown | Promise<unknown>;

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
  /** Messages one socket may send per second; more → error RATE_LIMITED and close 4006. Default 1 000 000 (batching lets one socket relay several hundred thousand per second). */
  maxMessagesPerSecond?: number;
  /** Ping interval, ms; a socket that did not answer the previous ping is terminated. 0 disables. Default 30 000. */
  heartbeatIntervalMs?: number;
  /** Time a new socket has to send its hello, ms (else close 4007). Default 10 000. */
  helloTimeoutMs?: number;
  /** Where registry entries live. Default a new MemoryRegistryStore. */
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
  heartbeatIntervalMs: number;
  helloTimeoutMs: number;
  registryStore: RegistryStore;
  router: Router;
  methods: Map<string, RpcMethod>;
}

export const DEFAULT_PATH = '/webbroker/vnf-ws';

export function resolveOptions(options: BrokerOptions): ResolvedOptions {
  const path = validPath(options.path ?? DEFAULT_PATH);
  const maxPayload = integer('maxPayload', options.maxPayload ?? DEFAULT_MAX_FRAME, 4096);
  const sendBufferLimit = integer('sendBufferLimit', options.sendBufferLimit ?? 16 * 1024 * 1024, maxPayload);
  const relayHighWaterMark = integer('relayHighWaterMark', options.relayHighWaterMark ?? Math.min(1024 * 1024, sendBufferLimit / 2), 1);
  if (relayHighWaterMark >= sendBufferLimit) {
    throw invalid(`relayHighWaterMark (${relayHighWaterMark}) must be below sendBufferLimit (${sendBufferLimit}).`);
  }
  const slowConsumerTimeoutMs = integer('slowConsumerTimeoutMs', options.slowConsumerTimeoutMs ?? 15_000, 1);
  const maxMessagesPerSecond = integer('maxMessagesPerSecond', options.maxMessagesPerSecond ?? 1_000_000, 1);
  const heartbeatIntervalMs = integer('heartbeatIntervalMs', options.heartbeatIntervalMs ?? 30_000, 0);
  const helloTimeoutMs = integer('helloTimeoutMs', options.helloTimeoutMs ?? 10_000, 1);
  if (options.authenticate !== undefined && typeof options.authenticate !== 'function') {
    throw invalid('authenticate must be a function (eva, token, request) => boolean | Promise<boolean>.');
  }
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
  return {
    path,
    maxPayload,
    authenticate: options.authenticate,
    allowedOrigins,
    sendBufferLimit,
    relayHighWaterMark,
    slowConsumerTimeoutMs,
    maxMessagesPerSecond,
    heartbeatIntervalMs,
    helloTimeoutMs,
    registryStore: options.registryStore ?? new MemoryRegistryStore(),
    router,
    methods,
  };
}

export function validPath(path: unknown): string {
  if (typeof path !== 'string' || !path.startsWith('/')) throw invalid(`path must start with '/'; got ${JSON.stringify(path)}.`);
  return path;
}

function integer(name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) throw invalid(`${name} must be an integer of at least ${min}; got ${value}.`);
  return value;
}

function invalid(message: string): VnfError {
  return new VnfError('INVALID_ARGUMENT', message);
}
