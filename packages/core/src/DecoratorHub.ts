import { AbstractHub, openInnerEndpoint } from './AbstractHub';
import { DecoratorEndpoint } from './DecoratorEndpoint';
import type { EndpointOptions } from './AbstractEndpoint';
import type { Endpoint, Hub } from './contract';

/**
 * A hub that wraps an inner hub: each endpoint wraps the inner endpoint of the same eva.
 * A pass-through decorator is `class MyHub extends DecoratorHub {}`; a real one overrides
 * `wrapEndpoint` to return its own DecoratorEndpoint subclass. Closing it closes the inner hub.
 */
export class DecoratorHub<E extends Endpoint = Endpoint, Inner extends Hub = Hub> extends AbstractHub<E> {
  readonly inner: Inner;

  constructor(inner: Inner) {
    super();
    this.inner = inner;
  }

  get maxPayloadSize(): number {
    return this.inner.maxPayloadSize;
  }

  /**
   * A decorator without a buffer of its own has the marks of the hub beneath (its bufferedAmount is that hub's). One
   * with a buffer overrides both, its lowWaterMark at least the inner hub's highWaterMark (see waterMarksOver).
   */
  get highWaterMark(): number {
    return this.inner.highWaterMark;
  }

  get lowWaterMark(): number {
    return this.inner.lowWaterMark;
  }

  protected createEndpoint(eva: string, release: () => void): E {
    const innerEndpoint = openInnerEndpoint(this.inner, eva);
    try {
      return this.wrapEndpoint(innerEndpoint, {
        onDestroyed: release,
        maxPayloadSize: this.maxPayloadSize,
        highWaterMark: this.highWaterMark,
        lowWaterMark: this.lowWaterMark,
      });
    } catch (err) {
      innerEndpoint.destroy();
      throw err;
    }
  }

  /** Wraps one inner endpoint. `options` carries the hub's bookkeeping; pass it to the endpoint. */
  protected wrapEndpoint(inner: Endpoint, options: EndpointOptions): E {
    return new DecoratorEndpoint(inner, options) as unknown as E;
  }

  protected override closeHub(): Promise<void> {
    return this.inner.close();
  }
}
