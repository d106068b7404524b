import { AbstractEndpoint, type EndpointOptions } from './AbstractEndpoint';
import type { ConnectionEvent, Endpoint } from './contract';

/**
 * An endpoint that wraps an inner endpoint of the same eva and, by default, passes everything through.
 * Override the hooks a decorator changes: `transmit` and `receive` for the message path,
 * `connect`/`disconnect` for connections, `teardown` for resources; keep calling `super`.
 */
export class DecoratorEndpoint<Inner extends Endpoint = Endpoint> extends AbstractEndpoint {
  protected readonly inner: Inner;

  constructor(inner: Inner, options: EndpointOptions = {}) {
    super(inner.eva, options);
    this.inner = inner;
    // A destroyed decorator may keep its inner endpoint a little longer (to flush a goodbye): what the inner
    // endpoint reports meanwhile must not start anything new up here.
    inner.on('message', (event) => this.destroyed || this.receive(event.sourceEva, event.message));
    inner.on('connection', (peer) => this.destroyed || this.innerConnected(peer));
    inner.on('connectionLost', (peer) => this.destroyed || this.innerConnectionLost(peer));
    inner.on('online', () => this.destroyed || this.emitSafely('online'));
    inner.on('offline', () => this.destroyed || this.emitSafely('offline'));
    inner.on('drain', (peer) => this.destroyed || this.innerDrain(peer));
    inner.on('error', (error) => this.reportError(error));
  }

  protected override queuedBytes(targetEva: string): number {
    return this.inner.destroyed ? 0 : this.inner.bufferedAmount(targetEva);
  }

  protected connect(targetEva: string, _signal: AbortSignal): Promise<ConnectionEvent> {
    return this.inner.openConnection(targetEva);
  }

  protected disconnect(targetEva: string): void {
    if (!this.inner.destroyed) this.inner.closeConnection(targetEva);
  }

  protected transmit(targetEva: string, message: unknown): void {
    this.inner.send(targetEva, message);
  }

  /**
   * Passes a multicast to the inner endpoint when this decorator does not change what it sends (it keeps
   * DecoratorEndpoint's `transmit`); a decorator that does must override this too, or each target gets its own
   * `transmit` (AbstractEndpoint's default).
   */
  protected override transmitToMany(targets: readonly string[], message: unknown): void {
    if (this.transmit === DecoratorEndpoint.prototype.transmit) this.inner.multicast(targets, message);
    else super.transmitToMany(targets, message);
  }

  protected teardown(_peers: string[]): void {
    this.inner.destroy();
  }

  /** A message arrived from the inner endpoint. */
  protected receive(sourceEva: string, message: unknown): void {
    this.deliver(sourceEva, message);
  }

  /** The inner endpoint has a new connection (opened by the peer). */
  protected innerConnected(peerEva: string): void {
    this.acceptConnection(peerEva);
  }

  /** The inner endpoint's send buffer toward `peerEva` drained: this layer's own drain may be due. */
  protected innerDrain(peerEva: string): void {
    this.checkDrain(peerEva);
  }

  /** The inner endpoint lost a connection. */
  protected innerConnectionLost(peerEva: string): void {
    this.connectionLost(peerEva);
  }
}
