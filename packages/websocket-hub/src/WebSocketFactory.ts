import WebSocket from 'isomorphic-ws';
import { createLogger, option, optionsSchema } from '@vnf/core';
import { RECONNECT_SCHEMA, type Backoff, type ReconnectOptions } from './backoff';
import { brokerUrls, sessionScope } from './brokerUrls';
import { UrlRotation, startIndex, type UrlStart } from './UrlRotation';

const log = createLogger('websocket-hub:factory');

/** The part of a WebSocket (browser or `ws`) the hub uses. */
export interface VnfSocket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  binaryType: string;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  /** `written`: ws in Node calls it once the data reached the kernel; browsers ignore it. */
  send(data: string | Uint8Array, written?: (err?: Error) => void): void;
  close(code?: number, reason?: string): void;
  /** Cuts the connection without a close handshake (`ws` in Node; browsers have none and close instead). */
  terminate?(): void;
}

/** Where session tokens outlive a page: the part of the Web Storage API used (`sessionStorage` fits). */
export interface SessionStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export interface WebSocketFactoryOptions {
  /**
   * WebSocket subprotocols.
   * @default none
   */
  protocols?: string | string[];
  /**
   * Extra HTTP headers of the upgrade request (Node only: browsers do not allow them).
   * @default none
   */
  headers?: Record<string, string>;
  /**
   * Sent in every hello as `auth`; the broker's authenticate hook checks it.
   * @default none
   */
  authToken?: string;
  /**
   * Backoff between reconnect attempts; with several URLs it grows once per full round of them.
   * @default { initialDelayMs: 250, maxDelayMs: 10000, factor: 2, jitter: 0.5 }
   */
  reconnect?: ReconnectOptions;
  /**
   * How long a socket may take to open and be welcomed by the broker before it is retried, ms.
   * @default 10000
   */
  handshakeTimeoutMs?: number;
  /**
   * After this long without receiving anything from the broker, a welcomed socket sends a `ping`, ms.
   * 0 disables the client's liveness check. Each ping costs the broker a read and a write: at 30 s, 19 000 idle
   * endpoints cost it a few per cent of a core (bench/RESULTS.md, idle-cpu).
   * @default 30000
   */
  heartbeatIntervalMs?: number;
  /**
   * Keeps each eva's session token here (give `sessionStorage` in a page: one per tab), so that a tab whose socket
   * died uncleanly and is then reloaded proves its token and gets its eva back within the broker's grace, instead
   * of EVA_IN_USE. A token is forgotten when its endpoint is destroyed.
   * @default none (tokens live in memory only)
   */
  sessionStore?: SessionStore;
  /**
   * If nothing at all arrives this long after a ping, the socket counts as dead: it is cut and reconnected, ms.
   * Longer than the broker's slowConsumerTimeoutMs (15 s) by default, so a sender the broker holds back is released
   * before it would cut itself.
   * @default 20000
   */
  heartbeatTimeoutMs?: number;
  /**
   * With several broker URLs: which one the factory's sockets try first. `'random'` (drawn once per factory, so one
   * factory's endpoints start on the same broker) spreads clients over the brokers without a load balancer; `'first'`
   * starts with the first URL given (a preferred broker, or a deterministic test). Either way each further attempt
   * of a socket goes to the next URL in turn.
   * @default 'random'
   */
  urlStart?: UrlStart;
}

const SCHEMA = optionsSchema('WebSocketFactory', {
  protocols: option.custom<string | string[]>({
    expected: 'a string or an array of strings',
    check: (p) => typeof p === 'string' || (Array.isArray(p) && p.every((item) => typeof item === 'string')),
  }),
  headers: option.object<Record<string, string>>({
    expected: 'an object of header names and string values',
    check: (h) => Object.values(h).every((value) => typeof value === 'string'),
  }),
  authToken: option.string(),
  reconnect: option.nested(RECONNECT_SCHEMA),
  handshakeTimeoutMs: option.number({ above: 0, default: 10_000 }),
  heartbeatIntervalMs: option.number({ min: 0, default: 30_000, expected: 'a finite number of ms, 0 to disable' }),
  sessionStore: option.object<SessionStore>({
    expected: 'an object with getItem, setItem and removeItem, as sessionStorage has',
    check: (store) => ['getItem', 'setItem', 'removeItem'].every((m) => typeof (store as unknown as Record<string, unknown>)[m] === 'function'),
  }),
  heartbeatTimeoutMs: option.number({ above: 0, default: 20_000 }),
  urlStart: option.enum(['random', 'first'], { default: 'random' }),
});

/**
 * Creates the sockets of WebSocketHub endpoints and WebSocketRpc channels, to one broker URL or to the brokers of one
 * cluster (several URLs: a socket that fails or is lost tries the next one, and its session token takes its eva
 * over there).
 */
export class WebSocketFactory {
  /** The broker URLs, in the order given. */
  readonly urls: readonly string[];
  /** The URL new sockets try first (the only one when one was given). */
  readonly url: string;
  readonly authToken: string | undefined;
  readonly reconnect: Backoff;
  readonly handshakeTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTimeoutMs: number;
  private readonly protocols: string | string[] | undefined;
  private readonly headers: Record<string, string> | undefined;
  private readonly sessionStore: SessionStore | undefined;
  private readonly start: number;
  private readonly sessionPrefix: string;

  /** `url`: one ws:// or wss:// URL, or the URLs of the brokers of one cluster (each once). */
  constructor(url: string | readonly string[], options: WebSocketFactoryOptions = {}) {
    this.urls = brokerUrls(url, (message) => SCHEMA.invalid(message));
    const resolved = SCHEMA.resolve(options);
    this.sessionStore = resolved.sessionStore;
    this.start = startIndex(this.urls.length, resolved.urlStart);
    this.url = this.urls[this.start]!;
    this.sessionPrefix = `vnf:session:${sessionScope(this.urls)}`;
    this.authToken = resolved.authToken;
    this.reconnect = resolved.reconnect;
    this.handshakeTimeoutMs = resolved.handshakeTimeoutMs;
    this.heartbeatIntervalMs = resolved.heartbeatIntervalMs;
    this.heartbeatTimeoutMs = resolved.heartbeatTimeoutMs;
    this.protocols = resolved.protocols;
    this.headers = resolved.headers;
    this.create = this.create.bind(this);
  }

  /** The stored session token of `eva` in `role`, if a sessionStore holds one. */
  loadSession(role: string, eva: string): string | undefined {
    return this.useStore((store) => store.getItem(this.sessionKey(role, eva)) ?? undefined);
  }

  /** Remembers the token the broker welcomed `eva` with. */
  saveSession(role: string, eva: string, token: string): void {
    this.useStore((store) => store.setItem(this.sessionKey(role, eva), token));
  }

  /** Forgets `token` (the endpoint was destroyed, or lost its eva for good), unless another token replaced it. */
  forgetSession(role: string, eva: string, token: string): void {
    const key = this.sessionKey(role, eva);
    this.useStore((store) => (store.getItem(key) === token ? store.removeItem(key) : undefined));
  }

  /** A new rotation over the URLs from the factory's start: each channel (one eva and role) has its own. */
  rotation(): UrlRotation {
    return new UrlRotation(this.urls, this.start);
  }

  /**
   * Opens a new socket to `url` (one of `urls`; the channels pass the one their rotation is at), binaryType
   * 'nodebuffer' with `ws` in Node, 'arraybuffer' in browsers. A subclass that overrides this should pass `url`
   * on to `super.create(url)`, or its sockets all go to `this.url`.
   */
  create(url: string = this.url): VnfSocket {
    // The third argument is the `ws` options object in Node; browsers ignore it.
    const Ctor = WebSocket as unknown as new (url: string, protocols?: string | string[], options?: object) => VnfSocket;
    const socket = this.headers ? new Ctor(url, this.protocols, { headers: this.headers }) : new Ctor(url, this.protocols);
    // In Node, ws hands over the Buffer it read into: 'arraybuffer' would copy every frame once more.
    socket.binaryType = typeof socket.terminate === 'function' ? 'nodebuffer' : 'arraybuffer';
    return socket;
  }

  private sessionKey(role: string, eva: string): string {
    return `${this.sessionPrefix}:${role}:${eva}`;
  }

  /** Storage may throw (quota, private mode, a disabled storage): the token then lives in memory only. */
  private useStore<T>(use: (store: SessionStore) => T): T | undefined {
    if (!this.sessionStore) return undefined;
    try {
      return use(this.sessionStore);
    } catch (err) {
      log('the sessionStore failed (%s); the session token stays in memory', String(err));
      return undefined;
    }
  }
}
