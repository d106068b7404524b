// A test-only decorator beneath SecureHub: it shows each record to an interceptor, which may forward it (changed or
// not, any number of times), hold it, or answer the sender as if the target had (a man in the middle).
import { DecoratorEndpoint, DecoratorHub, type Endpoint, type EndpointOptions } from '@vnf/core';

export interface Intercepted {
  readonly from: string;
  readonly to: string;
  /** Sends a record on to the target. */
  forward(record: Uint8Array): void;
  /** Delivers a record to the sender as if the target had sent it (on a later macrotask). */
  reply(record: Uint8Array): void;
}

export type Interceptor = (record: Uint8Array, at: Intercepted) => void;

export class TamperHub extends DecoratorHub {
  /** Sees every record any endpoint of this hub sends; null passes everything through. */
  interceptor: Interceptor | null = null;

  protected override wrapEndpoint(inner: Endpoint, options: EndpointOptions): Endpoint {
    return new TamperEndpoint(inner, options, this);
  }
}

class TamperEndpoint extends DecoratorEndpoint {
  constructor(
    inner: Endpoint,
    options: EndpointOptions,
    private readonly hub: TamperHub,
  ) {
    super(inner, options);
  }

  protected override transmit(to: string, message: unknown): void {
    const interceptor = this.hub.interceptor;
    if (interceptor === null || !(message instanceof Uint8Array)) return this.inner.send(to, message);
    interceptor(message, {
      from: this.eva,
      to,
      forward: (record) => this.inner.send(to, record),
      reply: (record) => setImmediate(() => this.deliver(to, record)),
    });
  }
}

/** A record's type byte: 1–3 handshake messages, 4 transport, 5 refusal. */
export const recordType = (record: Uint8Array): number => record[0]!;
