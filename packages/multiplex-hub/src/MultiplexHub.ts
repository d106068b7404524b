import { DecoratorHub, VnfError } from '@vnf/core';
import type { Endpoint, EndpointOptions, Hub } from '@vnf/core';
import { APP_HEADER_BYTES, MAX_SUB_HEADER_BYTES } from './frameCodec';
import { MultiplexEndpoint } from './MultiplexEndpoint';
import { SCHEMA, type MultiplexConfig, type MultiplexHubOptions } from './options';

/**
 * A decorator hub that lets named sub-protocols share each endpoint with the app: `endpoint.subProtocol('ping')`
 * is a channel of its own over the endpoint's connections, and the app's `onMessage` sees only the app's messages.
 * Both peers must use it. `new MultiplexHub(new InBrowserHub())`, `new MultiplexHub(new MarshallerHub(inner))`.
 */
export class MultiplexHub<Inner extends Hub = Hub> extends DecoratorHub<MultiplexEndpoint, Inner> {
  /** The options in effect, defaults filled in. */
  readonly options: Readonly<MultiplexConfig>;

  constructor(inner: Inner, options?: MultiplexHubOptions) {
    if (typeof inner !== 'object' || inner === null || typeof inner.openEndpoint !== 'function') {
      throw new VnfError('INVALID_ARGUMENT', 'MultiplexHub wraps a hub: pass one, e.g. new MultiplexHub(new InBrowserHub()).');
    }
    if (typeof inner.maxPayloadSize !== 'number' || !(inner.maxPayloadSize > MAX_SUB_HEADER_BYTES)) {
      throw new VnfError(
        'INVALID_ARGUMENT',
        `The inner hub carries at most ${String(inner.maxPayloadSize)} bytes a message; MultiplexHub needs more than its ` +
          `largest header (${MAX_SUB_HEADER_BYTES} bytes). Use an inner hub with a larger maxPayloadSize.`,
      );
    }
    const config = SCHEMA.resolve(options);
    super(inner);
    this.options = Object.freeze({ ...config });
  }

  /** The inner hub's limit minus the app frame's one byte (see the README for JSON values and sub-protocols). */
  override get maxPayloadSize(): number {
    return this.inner.maxPayloadSize - APP_HEADER_BYTES;
  }

  protected override wrapEndpoint(inner: Endpoint, options: EndpointOptions): MultiplexEndpoint {
    return new MultiplexEndpoint(inner, options, this.options);
  }
}
