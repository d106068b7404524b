import { DecoratorHub, VnfError } from '@vnf/core';
import type { Endpoint, EndpointOptions, Hub } from '@vnf/core';
import { MarshallerEndpoint } from './MarshallerEndpoint';
import { resolveOptions } from './options';
import type { MarshallerConfig, MarshallerHubOptions } from './options';

/**
 * A decorator hub that carries any JSON value, with Uint8Array/ArrayBuffer anywhere inside, of any size up to
 * `maxMessageSize`: it serializes, cuts messages into frames the inner hub accepts, interleaves large messages
 * so small ones are not stuck behind them, and reassembles on the receiving side.
 *
 * `new MarshallerHub(new InBrowserHub())`, `new MarshallerHub(new ReliableRtcHub(signalingHub), { maxMessageSize })`.
 */
export class MarshallerHub<Inner extends Hub = Hub> extends DecoratorHub<MarshallerEndpoint, Inner> {
  /** The options in effect, defaults filled in. */
  readonly options: Readonly<MarshallerConfig>;

  constructor(inner: Inner, options: MarshallerHubOptions = {}) {
    if (typeof inner !== 'object' || inner === null || typeof inner.openEndpoint !== 'function') {
      throw new VnfError('INVALID_ARGUMENT', 'MarshallerHub wraps a hub: pass one, e.g. new MarshallerHub(new InBrowserHub()).');
    }
    // Read once, now: a ReliableHub beneath reports its frame size minus its own header.
    const config = resolveOptions(options, inner.maxPayloadSize, inner);
    super(inner);
    this.options = Object.freeze({ ...config });
  }

  /** Its own marks: its bufferedAmount adds its queue to the inner endpoint's buffer. */
  override get highWaterMark(): number {
    return this.options.highWaterMark;
  }

  override get lowWaterMark(): number {
    return this.options.lowWaterMark;
  }

  /** The largest message `send` accepts: `maxMessageSize`. */
  override get maxPayloadSize(): number {
    return this.options.maxMessageSize;
  }

  protected override wrapEndpoint(inner: Endpoint, options: EndpointOptions): MarshallerEndpoint {
    return new MarshallerEndpoint(inner, options, this.options);
  }
}
