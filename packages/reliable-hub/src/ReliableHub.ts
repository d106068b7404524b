import { DecoratorHub, VnfError, type Endpoint, type EndpointOptions, type Hub } from '@vnf/core';
import { FRAME_OVERHEAD } from './frameCodec';
import { ReliableEndpoint } from './ReliableEndpoint';
import { resolveOptions, type ReliableHubOptions, type ResolvedOptions } from './options';

/**
 * A decorator hub giving exactly-once, in-order delivery over any hub, across loss, duplication,
 * reordering and dropped inner connections: `new ReliableHub(new WebSocketHub(factory))`.
 */
export class ReliableHub<Inner extends Hub = Hub> extends DecoratorHub<ReliableEndpoint, Inner> {
  private readonly options: ResolvedOptions;
  /** Destroyed endpoints whose inner endpoint stays a moment so their CLOSE frames can leave. */
  private readonly lingering = new Map<string, ReliableEndpoint>();

  constructor(inner: Inner, options?: ReliableHubOptions) {
    super(inner);
    if (inner === null || typeof inner !== 'object' || typeof inner.openEndpoint !== 'function') {
      throw new VnfError('INVALID_ARGUMENT', 'ReliableHub wraps a hub: pass one, e.g. new ReliableHub(new InBrowserHub()).');
    }
    if (!(inner.maxPayloadSize > FRAME_OVERHEAD)) {
      throw new VnfError(
        'INVALID_ARGUMENT',
        `The inner hub carries at most ${inner.maxPayloadSize} bytes a message; ReliableHub needs more than its ` +
          `${FRAME_OVERHEAD}-byte header. Use an inner hub with a larger maxPayloadSize.`,
      );
    }
    this.options = resolveOptions(options, inner.highWaterMark);
  }

  /** Its own marks: its bufferedAmount counts unacknowledged bytes, which acknowledgements drain whatever the inner hub's marks. */
  override get highWaterMark(): number {
    return this.options.highWaterMark;
  }

  override get lowWaterMark(): number {
    return this.options.lowWaterMark;
  }

  /** The inner hub's limit minus the per-message header. */
  override get maxPayloadSize(): number {
    return this.inner.maxPayloadSize - FRAME_OVERHEAD;
  }

  protected override createEndpoint(eva: string, release: () => void): ReliableEndpoint {
    // The inner hub holds the eva until the lingering endpoint lets go of it.
    this.lingering.get(eva)?.releaseInner();
    return super.createEndpoint(eva, release);
  }

  protected override wrapEndpoint(inner: Endpoint, options: EndpointOptions): ReliableEndpoint {
    return new ReliableEndpoint(inner, options, this.options, (endpoint) => {
      this.lingering.set(endpoint.eva, endpoint);
      void endpoint.innerReleased.then(() => {
        if (this.lingering.get(endpoint.eva) === endpoint) this.lingering.delete(endpoint.eva);
      });
    });
  }

  protected override async closeHub(): Promise<void> {
    await Promise.all([...this.lingering.values()].map((endpoint) => endpoint.innerReleased));
    await super.closeHub();
  }
}
