import { AbstractHub, VnfError, createMacrotaskQueue } from '@vnf/core';
import { InBrowserEndpoint } from './InBrowserEndpoint';
import type { InBrowserNetwork } from './InBrowserEndpoint';

export interface InBrowserHubOptions {
  /** Added delay of every delivery (messages, accepts, lost-events), in ms. Default 0 (next macrotask). */
  latencyMs?: number;
  /** Largest payload in bytes, as on a real wire. Default 1 MiB (the broker's default frame limit). */
  maxPayloadSize?: number;
  /** How long `openConnection` waits before TIMEOUT. Default 10 000 ms. */
  connectTimeoutMs?: number;
  /**
   * `drain` fires when the bytes sent toward a peer and not yet delivered fall to this many after growing past
   * it (`bufferedAmount` counts them). Default 64 KiB.
   */
  lowWaterMark?: number;
}

export const DEFAULT_IN_BROWSER_MAX_PAYLOAD = 1024 * 1024;
export const DEFAULT_IN_BROWSER_LOW_WATER_MARK = 64 * 1024;

/**
 * An in-process hub that behaves like a network: delivery is asynchronous (never inside `send`),
 * binary is copied, payload rules and errors are those of the wire hubs. Endpoints of one hub
 * instance reach each other; two hub instances are two separate networks.
 */
export class InBrowserHub extends AbstractHub<InBrowserEndpoint> {
  readonly maxPayloadSize: number;
  private readonly latencyMs: number;
  private readonly connectTimeoutMs?: number;
  private readonly lowWaterMark: number;
  private readonly network: InBrowserNetwork;
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private readonly open = new Map<string, InBrowserEndpoint>();

  constructor(options: InBrowserHubOptions = {}) {
    super();
    const {
      latencyMs = 0,
      maxPayloadSize = DEFAULT_IN_BROWSER_MAX_PAYLOAD,
      connectTimeoutMs,
      lowWaterMark = DEFAULT_IN_BROWSER_LOW_WATER_MARK,
    } = options;
    if (!(latencyMs >= 0) || !Number.isFinite(latencyMs)) {
      throw new VnfError('INVALID_ARGUMENT', `latencyMs must be a finite number >= 0; got ${latencyMs}.`);
    }
    if (!(maxPayloadSize > 0)) {
      throw new VnfError('INVALID_ARGUMENT', `maxPayloadSize must be a positive number of bytes; got ${maxPayloadSize}.`);
    }
    if (!(lowWaterMark >= 0)) {
      throw new VnfError('INVALID_ARGUMENT', `lowWaterMark must be a number of bytes >= 0; got ${lowWaterMark}.`);
    }
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
