import { AbstractHub, DEFAULT_CONNECT_TIMEOUT_MS, VnfError, option, optionsSchema } from '@vnf/core';
import { DEFAULT_MAX_FRAME, ENVELOPE_BYTES } from '@vnf/protocol';
import { DEFAULT_CALL_TIMEOUT_MS } from './rpcCalls';
import { WebSocketEndpoint } from './WebSocketEndpoint';
import type { WebSocketFactory } from './WebSocketFactory';

export interface WebSocketHubOptions {
  /**
   * Largest payload `send` accepts, bytes (the broker's `maxPayload` bounds whole frames: `send` also refuses a
   * payload whose frame the broker would not take).
   * @default 1047552 (1 MiB minus the 1 KiB envelope: the broker's default frame limit)
   */
  maxPayload?: number;
  /** @deprecated Renamed `maxPayload`, the broker's name; the old name stops working in the next release. */
  maxPayloadSize?: number;
  /**
   * How long `openConnection` waits (registration included) before TIMEOUT, ms.
   * @default 10000
   */
  connectTimeoutMs?: number;
  /**
   * Bytes in an endpoint's send buffer (`bufferedAmount`: queued and not yet written to the socket) past which it
   * owes its peers a `drain`.
   * @default 1048576 (1 MiB)
   */
  highWaterMark?: number;
  /**
   * `bufferedAmount` at or below which an owed `drain` fires. Must be below `highWaterMark`.
   * @default 262144 (256 KiB)
   */
  lowWaterMark?: number;
  /**
   * Default timeout of calls on `endpoint.getWebSocketRpc()`, ms.
   * @default 10000
   */
  callTimeoutMs?: number;
}

const SCHEMA = optionsSchema('WebSocketHub', {
  maxPayload: option.number({ above: 0, allowInfinity: true, default: DEFAULT_MAX_FRAME - ENVELOPE_BYTES, renamedFrom: 'maxPayloadSize' }),
  connectTimeoutMs: option.number({ above: 0, default: DEFAULT_CONNECT_TIMEOUT_MS }),
  highWaterMark: option.number({ above: 0, allowInfinity: true, default: 1024 * 1024 }),
  lowWaterMark: option.number({ min: 0, default: 256 * 1024 }),
  callTimeoutMs: option.number({ above: 0, default: DEFAULT_CALL_TIMEOUT_MS }),
}, { check: (o) => (o.lowWaterMark < o.highWaterMark ? undefined : `lowWaterMark (${o.lowWaterMark}) must be below highWaterMark (${o.highWaterMark}).`) });

/** How long `close()` waits for sockets to finish their closing handshake, ms. */
const CLOSE_WAIT_MS = 3000;

/** Endpoints relayed through the broker; each endpoint has its own socket (see README: one socket per endpoint). */
export class WebSocketHub extends AbstractHub<WebSocketEndpoint> {
  readonly maxPayloadSize: number;
  private readonly factory: WebSocketFactory;
  private readonly connectTimeoutMs: number;
  readonly highWaterMark: number;
  readonly lowWaterMark: number;
  private readonly callTimeoutMs: number;
  private readonly live = new Set<WebSocketEndpoint>();
  private readonly socketsClosing = new Set<Promise<void>>();

  constructor(factory: WebSocketFactory, options: WebSocketHubOptions = {}) {
    super();
    if (!factory || typeof (factory as { create?: unknown }).create !== 'function') {
      throw new VnfError('INVALID_ARGUMENT', 'WebSocketHub needs a WebSocketFactory: new WebSocketHub(new WebSocketFactory(url)).');
    }
    const resolved = SCHEMA.resolve(options);
    this.factory = factory;
    this.maxPayloadSize = resolved.maxPayload;
    this.connectTimeoutMs = resolved.connectTimeoutMs;
    this.highWaterMark = resolved.highWaterMark;
    this.lowWaterMark = resolved.lowWaterMark;
    this.callTimeoutMs = resolved.callTimeoutMs;
  }

  protected createEndpoint(eva: string, release: () => void): WebSocketEndpoint {
    const endpoint = new WebSocketEndpoint(eva, this.factory, {
      maxPayloadSize: this.maxPayloadSize,
      connectTimeoutMs: this.connectTimeoutMs,
      highWaterMark: this.highWaterMark,
      lowWaterMark: this.lowWaterMark,
      callTimeoutMs: this.callTimeoutMs,
      hubRegistered: () => this.registered(),
      onDestroyed: (ended) => {
        const closed = (ended as WebSocketEndpoint).closed();
        this.socketsClosing.add(closed);
        void closed.then(() => this.socketsClosing.delete(closed));
        this.live.delete(ended as WebSocketEndpoint);
        release();
      },
    });
    this.live.add(endpoint);
    return endpoint;
  }

  protected override async closeHub(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const cap = new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS)));
    await Promise.race([Promise.all([...this.socketsClosing]), cap]);
    clearTimeout(timer);
  }

  private registered(): Promise<void> {
    return Promise.all([...this.live].map((endpoint) => endpoint.firstAttempt)).then(() => undefined);
  }
}
