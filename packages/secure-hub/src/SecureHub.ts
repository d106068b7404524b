import { DecoratorHub, VnfError, type Endpoint, type EndpointOptions, type Hub } from '@vnf/core';
import { Identity } from './Identity';
import { RECORD_OVERHEAD } from './records';
import { SecureEndpoint } from './SecureEndpoint';
import { resolveOptions, type SecureConfig, type SecureHubOptions } from './options';

/**
 * A decorator hub whose every connection is mutually authenticated and end-to-end encrypted over the hub beneath:
 * a Noise XX handshake (Noise_XX_25519_ChaChaPoly_SHA256) inside `openConnection`, then one ChaCha20-Poly1305 record
 * per message. `new SecureHub(new WebSocketHub(factory), { identity: Identity.generate() })`.
 */
export class SecureHub<Inner extends Hub = Hub> extends DecoratorHub<SecureEndpoint, Inner> {
  /** The options in effect, defaults filled in. */
  readonly options: Readonly<SecureConfig>;

  /** A new long-term identity (the same as `Identity.generate()`). */
  static generateIdentity(): Identity {
    return Identity.generate();
  }

  constructor(inner: Inner, options: SecureHubOptions) {
    if (typeof inner !== 'object' || inner === null || typeof inner.openEndpoint !== 'function') {
      throw new VnfError('INVALID_ARGUMENT', 'SecureHub wraps a hub: pass one, e.g. new SecureHub(new InBrowserHub(), { identity }).');
    }
    const config = resolveOptions(options);
    if (!(inner.maxPayloadSize > RECORD_OVERHEAD)) {
      throw new VnfError(
        'INVALID_ARGUMENT',
        `The inner hub carries at most ${inner.maxPayloadSize} bytes a message; SecureHub needs more than its ${RECORD_OVERHEAD}-byte record overhead.`,
      );
    }
    super(inner);
    this.options = Object.freeze({ ...config });
  }

  /** This hub's identity's fingerprint, to show the user. */
  get fingerprint(): string {
    return this.options.identity.fingerprint;
  }

  /** The inner hub's limit minus a record's header, kind byte and tag. */
  override get maxPayloadSize(): number {
    return this.inner.maxPayloadSize - RECORD_OVERHEAD;
  }

  protected override wrapEndpoint(inner: Endpoint, options: EndpointOptions): SecureEndpoint {
    return new SecureEndpoint(inner, options, this.options);
  }
}
