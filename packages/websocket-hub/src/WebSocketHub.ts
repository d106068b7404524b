import { AbstractHub, VnfError } from '@vnf/core';
import { DEFAULT_MAX_FRAME, ENVELOPE_BYTES } from './protocol/constants';
import { DEFAULT_CALL_TIMEOUT_MS } from './rpcCalls';
import { WebSocketEndpoint } from './WebSocketEndpoint';
import type { WebSocketFactory } from './WebSocketFactory';

export interface WebSocketHubOptions {
  /** Largest payload `send` accepts, bytes. Default 1 MiB minus the 1 KiB envelope (the broker's default frame limit). */
  maxPayloadSize?: number;
  /** How long `openConnection` waits (registration included) before TIMEOUT, ms. Default 10 000. */
  connectTimeoutMs?: number;
  /** `drain` fires when the send buffer falls back to this many bytes after growing past it. Default 256 KiB. */
  lowWaterMark?: number;
  /** Default timeout of calls on `endpoint.getWebSocketRpc()`, ms. Default 10 000. */
  callTimeoutMs?: number;
}

/** How long `close()` waits for sockets to finish their closing handshake, ms. */
const CLOSE_WAIT_MS = 3000;

/** Endpoints relayed through the broker; each endpoint has its own socket (see README: one socket per endpoint). */
export class WebSocketHub extends AbstractHub<WebSocketEndpoint> {
  readonly maxPayloadSize: number;
  private readonly factory: WebSocketFactory;
  private readonly connectTimeoutMs: number | undefined;
  private readonly lowWaterMark: number;
  private readonly callTimeoutMs: number;
  private readonly live = new Set<WebSocketEndpoint>();
  private readonly socketsClosing = new Set<Promise<void>>();

  constructor(factory: WebSocketFactory, options: WebSocketHubOptions = {}) {
    super();
    if (!factory || typeof (factory as { create?: unknown }).create !== 'function') {
      throw new VnfError('INVALID_ARGUMENT', 'WebSocketHub needs a WebSocketFactory: new WebSocketHub(new WebSocketFactory(url)).');
    }
    const max = options.maxPayloadSize ?? DEFAULT_MAX_FRAME - ENVELOPE_BYTES;
    if (!(max > 0)) throw new VnfError('INVALID_ARGUMENT', `maxPayloadSize must be positive; got ${max}.`);
    const low = options.lowWaterMark ?? 256 * 1024;
    if (!(low >= 0)) throw new VnfError('INVALID_ARGUMENT', `lowWaterMark must be zero or more; got ${low}.`);
    const call = options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    if (!(call > 0)) throw new VnfError('INVALID_ARGUMENT', `callTimeoutMs must be positive; got ${call}.`);
    if (options.connectTimeoutMs !== undefined && !(options.connectTimeoutMs > 0)) {
      throw new VnfError('INVALID_ARGUMENT', `connectTimeoutMs must be positive; got ${options.connectTimeoutMs}.`);
    }
    this.factory = factory;
    this.maxPayloadSize = max;
    this.connectTimeoutMs = options.connectTimeoutMs;
    this.lowWaterMark = low;
    this.callTimeoutMs = call;
  }

  protected createEndpoint(eva: string, release: () => void): WebSocketEndpoint {
    const endpoint = new WebSocketEndpoint(eva, this.factory, {
      maxPayloadSize: this.maxPayloadSize,
      connectTimeoutMs: this.connectTimeoutMs,
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
