import { AbstractHub, DEFAULT_CONNECT_TIMEOUT_MS, createMacrotaskQueue, option, optionsSchema } from '@vnf/core';
import { InBrowserEndpoint } from './InBrowserEndpoint';
import type { InBrowserNetwork } from './InBrowserEndpoint';

export interface InBrowserHubOptions {
  /**
   * Added delay of every delivery (messages, accepts, lost-events), in ms; 0 delivers on the next macrotask.
   * @default 0
   */
  latencyMs?: number;
  /**
   * Largest payload in bytes, as on a real wire.
   * @default 1048576 (1 MiB, the broker's default frame limit)
   */
  maxPayloadSize?: number;
  /**
   * How long `openConnection` waits before TIMEOUT, in ms.
   * @default 10000
   */
  connectTimeoutMs?: number;
  /**
   * Bytes sent toward a peer and not yet delivered (`bufferedAmount`) past which the endpoint owes a `drain`.
   * @default 262144 (256 KiB)
   */
  highWaterMark?: number;
  /**
   * `bufferedAmount` at or below which an owed `drain` fires. Must be below `highWaterMark`.
   * @default 65536 (64 KiB)
   */
  lowWaterMark?: number;
}

export const DEFAULT_IN_BROWSER_MAX_PAYLOAD = 1024 * 1024;
export const DEFAULT_IN_BROWSER_LOW_WATER_MARK = 64 * 1024;
export const DEFAULT_IN_BROWSER_HIGH_WATER_MARK = 256 * 1024;

const SCHEMA = optionsSchema('InBrowserHub', {
  latencyMs: option.number({ min: 0, default: 0 }),
  maxPayloadSize: option.number({ above: 0, allowInfinity: true, default: DEFAULT_IN_BROWSER_MAX_PAYLOAD }),
  connectTimeoutMs: option.number({ above: 0, default: DEFAULT_CONNECT_TIMEOUT_MS }),
  highWaterMark: option.number({ above: 0, allowInfinity: true, default: DEFAULT_IN_BROWSER_HIGH_WATER_MARK }),
  lowWaterMark: option.number({ min: 0, default: DEFAULT_IN_BROWSER_LOW_WATER_MARK }),
}, { check: (o) => (o.lowWaterMark < o.highWaterMark ? undefined : `lowWaterMark (${o.lowWaterMark}) must be below highWaterMark (${o.highWaterMark}).`) });

/**
 * An in-process hub that behaves like a network: delivery is asynchronous (never inside `send`),
 * binary is copied, payload rules and errors are those of the wire hubs. Endpoints of one hub
 * instance reach each other; two hub instances are two separate networks.
 */
export class InBrowserHub extends AbstractHub<InBrowserEndpoint> {
  readonly maxPayloadSize: number;
  private readonly latencyMs: number;
  private readonly connectTimeoutMs: number;
  readonly highWaterMark: number;
  readonly lowWaterMark: number;
  private readonly network: InBrowserNetwork;
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private readonly open = new Map<string, InBrowserEndpoint>();

  constructor(options: InBrowserHubOptions = {}) {
    super();
    const { latencyMs, maxPayloadSize, connectTimeoutMs, highWaterMark, lowWaterMark } = SCHEMA.resolve(options);
    this.highWaterMark = highWaterMark;
    this.lowWaterMark = lowWaterMark;
    this.latencyMs = latencyMs;
    this.maxPayloadSize = maxPayloadSize;
    this.connectTimeoutMs = connectTimeoutMs;
    const enqueue = createMacrotaskQueue();
    this.network = {
      find: (eva) => this.findOpen(eva),
      schedule: latencyMs > 0 ? (task) => this.later(task) : enqueue,
    };
  }

  protected createEndpoint(eva: string, release: () => void): InBrowserEndpoint {
    const endpoint = new InBrowserEndpoint(eva, this.network, {
      maxPayloadSize: this.maxPayloadSize,
      connectTimeoutMs: this.connectTimeoutMs,
      highWaterMark: this.highWaterMark,
      lowWaterMark: this.lowWaterMark,
      onDestroyed: () => {
        this.open.delete(eva);
        release();
      },
    });
    this.open.set(eva, endpoint);
    return endpoint;
  }

  protected override closeHub(): void {
    // Lost-events scheduled by the endpoints' teardown go to endpoints that are destroyed too: drop them.
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private findOpen(eva: string): InBrowserEndpoint | undefined {
    return this.open.get(eva);
  }

  private later(task: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      task();
    }, this.latencyMs);
    this.timers.add(timer);
  }
}
