import { DecoratorEndpoint, VnfError, createLogger } from '@vnf/core';
import type { Endpoint, EndpointOptions } from '@vnf/core';
import { encodeMessage, type EncodedMessage } from './codec';
import { OutgoingMessage } from './OutgoingMessage';
import { Reassembler } from './Reassembler';
import { Sender } from './Sender';
import type { MarshallerConfig } from './options';

const log = createLogger('marshaller-hub');

/**
 * An endpoint of a MarshallerHub: sends any JSON value with binary inside, of any size up to maxMessageSize,
 * as frames of at most chunkSize bytes over the inner endpoint of the same eva.
 */
export class MarshallerEndpoint<Inner extends Endpoint = Endpoint> extends DecoratorEndpoint<Inner> {
  private readonly config: MarshallerConfig;
  private readonly senders = new Map<string, Sender>();
  private readonly receivers = new Map<string, Reassembler>();
  /** The message `validatePayload` just serialized, for `transmit` or `transmitToMany` (called right after it). */
  private accepted: EncodedMessage | null = null;

  constructor(inner: Inner, options: EndpointOptions, config: MarshallerConfig) {
    super(inner, options);
    this.config = config;
  }

  /** The inner endpoint's buffered bytes plus the serialized bytes this layer has not yet handed to it. */
  protected override queuedBytes(targetEva: string): number {
    return super.queuedBytes(targetEva) + (this.senders.get(targetEva)?.queuedBytes ?? 0);
  }

  /** Validating is serializing, so a value is walked once: `transmit` and `transmitToMany` take what it made. */
  protected override validatePayload(message: unknown): void {
    this.accepted = encodeMessage(message, this.config.maxMessageSize);
  }

  /** As every endpoint's, and the serialized message is let go even when no target was connected. */
  override multicast(targets: readonly string[], message: unknown): void {
    try {
      super.multicast(targets, message);
    } finally {
      this.accepted = null;
    }
  }

  protected override transmit(targetEva: string, message: unknown): void {
    this.enqueue(targetEva, this.takeAccepted(message));
  }

  /**
   * A message that fits one frame is framed once and goes to every target in one inner multicast, except to a target
   * whose queue still holds frames: it waits its turn there, so it arrives after what was sent before it. A larger
   * message is cut per target (chunk ids are per connection), serialized once, and skips a target whose buffer is past
   * highWaterMark, as AbstractEndpoint's rule does.
   */
  protected override transmitToMany(targets: readonly string[], message: unknown): void {
    const encoded = this.takeAccepted(message);
    const { chunkSize, highWaterMark } = this.config;
    if (!OutgoingMessage.fitsOneFrame(encoded.size, chunkSize)) {
      for (const target of targets) if (this.queuedBytes(target) <= highWaterMark) this.enqueue(target, encoded);
      return;
    }
    const straight: string[] = [];
    for (const target of targets) {
      const sender = this.senders.get(target);
      if (!sender || sender.isClosed || sender.idle) straight.push(target);
      else if (this.queuedBytes(target) <= highWaterMark) sender.enqueue(encoded);
    }
    if (straight.length > 0) this.inner.multicast(straight, new OutgoingMessage(encoded, 0).nextFrame(chunkSize).frame);
  }

  private takeAccepted(message: unknown): EncodedMessage {
    const encoded = this.accepted ?? encodeMessage(message, this.config.maxMessageSize);
    this.accepted = null;
    return encoded;
  }

  private enqueue(targetEva: string, encoded: EncodedMessage): void {
    let sender = this.senders.get(targetEva);
    if (!sender || sender.isClosed) {
      sender = new Sender({
        inner: this.inner,
        peer: targetEva,
        config: this.config,
        onError: (error) => this.reportError(error),
        onProgress: () => this.checkDrain(targetEva),
      });
      this.senders.set(targetEva, sender);
    }
    sender.enqueue(encoded);
  }

  protected override receive(sourceEva: string, message: unknown): void {
    if (!this.hasConnection(sourceEva)) {
      log('%s dropped a frame from %s: not connected', this.eva, sourceEva);
      return;
    }
    let receiver = this.receivers.get(sourceEva);
    if (!receiver) {
      receiver = new Reassembler({
        peer: sourceEva,
        config: this.config,
        deliver: (value) => this.deliver(sourceEva, value),
        onError: (error) => this.reportError(error),
      });
      this.receivers.set(sourceEva, receiver);
    }
    receiver.receive(message);
  }

  protected override innerConnectionLost(peerEva: string): void {
    const { unsent, discarded } = this.forget(peerEva);
    super.innerConnectionLost(peerEva);
    if (unsent > 0) {
      this.reportError(
        new VnfError(
          'UNAVAILABLE',
          `The connection to ${peerEva} was lost with ${unsent} message(s) not fully sent; they were dropped. ` +
            'Reconnect and send them again.',
          { details: { peer: peerEva, unsent } },
        ),
      );
    }
    if (discarded > 0) {
      this.reportError(
        new VnfError(
          'UNAVAILABLE',
          `The connection to ${peerEva} was lost with ${discarded} message(s) not fully received; they were discarded. ` +
            'The peer must send them again after reconnecting.',
          { details: { peer: peerEva, discarded } },
        ),
      );
    }
  }

  protected override disconnect(targetEva: string): void {
    this.forget(targetEva);
    super.disconnect(targetEva);
  }

  protected override teardown(peers: string[]): void {
    for (const peer of new Set([...this.senders.keys(), ...this.receivers.keys()])) this.forget(peer);
    super.teardown(peers);
  }

  /** Drops a connection's send queue and reassembly state, clearing their timers. */
  private forget(peerEva: string): { unsent: number; discarded: number } {
    const unsent = this.senders.get(peerEva)?.close() ?? 0;
    const discarded = this.receivers.get(peerEva)?.close() ?? 0;
    this.senders.delete(peerEva);
    this.receivers.delete(peerEva);
    return { unsent, discarded };
  }
}
