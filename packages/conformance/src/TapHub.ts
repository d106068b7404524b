import { DecoratorEndpoint, DecoratorHub } from '@vnf/core';
import type { Endpoint, EndpointOptions } from '@vnf/core';

/** Sees each binary record an endpoint above hands the layer beneath it, and decides what goes on (forwarded, changed, held, repeated). */
export type RecordTap = (record: Uint8Array, from: string, to: string, forward: (record: Uint8Array) => void) => void;

/** A decorator the suite puts beneath the layer under test: every record crosses `tap` when one is set. */
export class TapHub extends DecoratorHub {
  tap: RecordTap | null = null;
  private readonly byEva = new Map<string, TapEndpoint>();

  /** Hands `record` beneath from `from`'s endpoint to `to`, as the broker could (the inner connection must be open). */
  inject(from: string, to: string, record: Uint8Array): void {
    const endpoint = this.byEva.get(from);
    if (!endpoint) throw new Error(`TapHub.inject: no endpoint ${from} on this hub`);
    endpoint.sendBeneath(to, record);
  }

  protected override wrapEndpoint(inner: Endpoint, options: EndpointOptions): Endpoint {
    const endpoint = new TapEndpoint(inner, options, this);
    this.byEva.set(endpoint.eva, endpoint);
    return endpoint;
  }
}

class TapEndpoint extends DecoratorEndpoint {
  constructor(
    inner: Endpoint,
    options: EndpointOptions,
    private readonly hub: TapHub,
  ) {
    super(inner, options);
  }

  sendBeneath(to: string, record: Uint8Array): void {
    this.inner.send(to, record);
  }

  protected override transmit(to: string, message: unknown): void {
    const tap = this.hub.tap;
    if (tap === null || !(message instanceof Uint8Array)) return this.inner.send(to, message);
    tap(message, this.eva, to, (record) => this.inner.send(to, record));
  }
}
