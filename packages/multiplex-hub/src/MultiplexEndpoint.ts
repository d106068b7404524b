import type { MultiplexingEndpoint } from '@vnf/core';
import { DecoratorEndpoint, VnfError, callUserListener, createLogger, isBinary, payloadByteLength } from '@vnf/core';
import type { Endpoint, EndpointOptions } from '@vnf/core';
import { APP_HEADER_BYTES, ChannelCodec, decodeFrame, encodeApp, validateSubProtocolName } from './frameCodec';
import { SubProtocol, deliverTo, relayTo } from './SubProtocol';
import type { MultiplexConfig } from './options';

const log = createLogger('multiplex-hub');

/** Distinct unknown names reported per peer and connection, so a peer inventing names cannot grow our memory. */
export const MAX_UNKNOWN_REPORTED = 32;

interface Channel {
  readonly protocol: SubProtocol;
  readonly codec: ChannelCodec;
  readonly maxPayloadSize: number;
  readonly guard: (fn: () => void) => void;
}

/**
 * An endpoint of a MultiplexHub. The app uses it as any endpoint and sees only its own messages; each
 * `subProtocol(name)` is a channel of its own over the same connections. See the package README for the frames.
 */
export class MultiplexEndpoint<Inner extends Endpoint = Endpoint> extends DecoratorEndpoint<Inner> implements MultiplexingEndpoint {
  private readonly config: MultiplexConfig;
  private readonly channels = new Map<string, Channel>();
  /** Per peer, the unknown sub-protocol names already reported on the current connection. */
  private readonly unknownReported = new Map<string, Set<string>>();

  constructor(inner: Inner, options: EndpointOptions, config: MultiplexConfig) {
    super(inner, { ...options, connectTimeoutMs: config.connectTimeoutMs });
    this.config = config;
    this.subProtocol = this.subProtocol.bind(this);
  }

  /**
   * Opens the sub-protocol `name` on this endpoint: a channel over the same connections whose messages never reach
   * the app's `onMessage`. The peer must open the same name to receive them. One channel per name: a second call
   * while it is open throws INVALID_ARGUMENT; after its `close()` the name can be opened again.
   */
  subProtocol(name: string): SubProtocol {
    this.assertAlive('subProtocol');
    validateSubProtocolName(name);
    if (this.channels.has(name)) {
      throw new VnfError(
        'INVALID_ARGUMENT',
        `Sub-protocol ${JSON.stringify(name)} is already open on endpoint ${this.eva}. Share the SubProtocol you got, or close() it first.`,
        { details: { eva: this.eva, subProtocol: name } },
      );
    }
    const codec = new ChannelCodec(name);
    const maxPayloadSize = this.maxPayloadSize + APP_HEADER_BYTES - codec.headerBytes;
    const where = `sub-protocol ${JSON.stringify(name)} of endpoint ${this.eva}`;
    const guard = (fn: () => void): void => callUserListener(this, fn, where);
    const protocol: SubProtocol = new SubProtocol(name, {
      eva: this.eva,
      maxPayloadSize,
      highWaterMark: this.drainHigh,
      send: (targetEva, message) => this.sendOn(channel, targetEva, message),
      multicast: (targets, message) => this.multicastOn(channel, targets, message),
      bufferedAmount: (targetEva) => this.bufferedAmount(targetEva),
      isConnected: (eva) => this.isConnected(eva),
      connections: () => this.connections(),
      guard,
      release: () => {
        if (this.channels.get(name) === channel) this.channels.delete(name);
      },
    });
    const channel: Channel = { protocol, codec, maxPayloadSize, guard };
    this.channels.set(name, channel);
    // Reported while nobody listened; from now on it is routed, and after a close it is reported again.
    for (const reported of this.unknownReported.values()) reported.delete(name);
    return protocol;
  }

  // ---- DecoratorEndpoint hooks ----------------------------------------------------------------

  /** Strings and binary are checked against the limit here (the frame's byte is ours); the hub beneath checks the rest. */
  protected override validatePayload(message: unknown): void {
    checkSize(message, this.maxPayloadSize, "this hub's");
  }

  protected override transmit(targetEva: string, message: unknown): void {
    this.transmitFrame(targetEva, encodeApp(message));
  }

  protected override transmitToMany(targets: readonly string[], message: unknown): void {
    this.multicastFrame(targets, encodeApp(message));
  }

  protected override receive(sourceEva: string, message: unknown): void {
    if (!this.hasConnection(sourceEva)) {
      log('%s dropped a message from %s: not connected', this.eva, sourceEva);
      return;
    }
    const frame = decodeFrame(message);
    if (frame.malformed !== undefined) this.reportMalformed(sourceEva, frame.malformed);
    else if (frame.name === null) this.deliver(sourceEva, frame.payload);
    else this.dispatch(sourceEva, frame.name, frame.payload);
  }

  protected override acceptConnection(peerEva: string): void {
    const opening = !this.destroyed && !this.hasConnection(peerEva);
    super.acceptConnection(peerEva);
    if (opening) this.relay('connection', peerEva);
  }

  protected override connectionLost(peerEva: string): void {
    const wasOpen = this.hasConnection(peerEva);
    super.connectionLost(peerEva);
    this.unknownReported.delete(peerEva);
    if (wasOpen) this.relay('connectionLost', peerEva);
  }

  protected override disconnect(targetEva: string): void {
    this.unknownReported.delete(targetEva);
    super.disconnect(targetEva);
  }

  protected override innerDrain(peerEva: string): void {
    super.innerDrain(peerEva);
    this.relay('drain', peerEva);
  }

  protected override teardown(peers: string[]): void {
    try {
      for (const channel of [...this.channels.values()]) channel.protocol.close();
      this.unknownReported.clear();
    } finally {
      super.teardown(peers);
    }
  }

  // ---- internals ------------------------------------------------------------------------------

  /** `SubProtocol.send`: the checks of `endpoint.send`, in its order, then the channel's frame. */
  private sendOn(channel: Channel, targetEva: string, message: unknown): void {
    this.assertAlive('send');
    if (!this.hasConnection(targetEva)) {
      throw new VnfError(
        'NOT_CONNECTED',
        `${this.eva} has no open connection to ${String(targetEva)}, so sub-protocol ${JSON.stringify(channel.codec.name)} cannot ` +
          'send to it. Open the connection on the endpoint (openConnection, or wait for the peer to connect) before sending; ' +
          'the connection may also have been lost.',
        { details: { eva: this.eva, targetEva, subProtocol: channel.codec.name } },
      );
    }
    checkSize(message, channel.maxPayloadSize, `sub-protocol ${JSON.stringify(channel.codec.name)}'s`);
    this.transmitFrame(targetEva, channel.codec.encode(message));
  }

  /** `SubProtocol.multicast`: the checks of `endpoint.multicast`, then one frame for every target. */
  private multicastOn(channel: Channel, targets: readonly string[], message: unknown): void {
    this.assertAlive('multicast');
    if (!Array.isArray(targets)) {
      throw new VnfError('INVALID_ARGUMENT', `multicast takes an array of target evas; got ${typeof targets}.`);
    }
    checkSize(message, channel.maxPayloadSize, `sub-protocol ${JSON.stringify(channel.codec.name)}'s`);
    // The frame is built once; the endpoint beneath skips targets it is not connected to.
    this.multicastFrame(targets, channel.codec.encode(message));
  }

  private multicastFrame(targets: readonly string[], frame: unknown): void {
    this.framed(() => this.inner.multicast(targets, frame));
  }

  private transmitFrame(targetEva: string, frame: unknown): void {
    this.framed(() => this.inner.send(targetEva, frame));
  }

  /** Runs a send of a frame, explaining a refusal by the hub beneath in terms of the message. */
  private framed(send: () => void): void {
    try {
      send();
    } catch (err) {
      // The hub beneath judged the frame, not the message: say so, since its sizes and indices count the header.
      if (VnfError.is(err, 'INVALID_PAYLOAD') || VnfError.is(err, 'TOO_LARGE')) {
        throw new VnfError(
          err.code,
          'The hub beneath MultiplexHub refused this message in its frame (MultiplexHub puts one character or byte, ' +
            `or a name, before strings and binary, and sends other values as [0, value] or [1, name, value]): ${err.message}`,
          { cause: err, ...(err.details ? { details: err.details } : {}) },
        );
      }
      throw err;
    }
  }

  private dispatch(sourceEva: string, name: string, payload: unknown): void {
    const channel = this.channels.get(name);
    if (channel) deliverTo(channel.protocol, { sourceEva, message: payload }, channel.guard);
    else this.reportUnknown(sourceEva, name);
  }

  private relay(event: 'connection' | 'connectionLost' | 'drain', peerEva: string): void {
    // A listener may close or open sub-protocols meanwhile: relay to those open now.
    for (const channel of [...this.channels.values()]) relayTo(channel.protocol, event, peerEva, channel.guard);
  }

  private reportUnknown(sourceEva: string, name: string): void {
    let reported = this.unknownReported.get(sourceEva);
    if (!this.config.reportUnknownSubProtocols || reported?.has(name) || (reported?.size ?? 0) >= MAX_UNKNOWN_REPORTED) {
      log('%s dropped a message from %s for sub-protocol %j: not open here', this.eva, sourceEva, name);
      return;
    }
    if (!reported) this.unknownReported.set(sourceEva, (reported = new Set()));
    reported.add(name);
    this.reportError(
      new VnfError(
        'PROTOCOL',
        `${this.eva} got a message from ${sourceEva} for sub-protocol ${JSON.stringify(name)}, which is not open here; it was ` +
          `dropped, and so will be the next ones on this connection (reported once). Open it with ` +
          `endpoint.subProtocol(${JSON.stringify(name)}) before the peer sends on it.`,
        { details: { eva: this.eva, peer: sourceEva, subProtocol: name, reason: 'UNKNOWN_SUB_PROTOCOL' } },
      ),
    );
  }

  private reportMalformed(sourceEva: string, what: string): void {
    this.reportError(
      new VnfError(
        'PROTOCOL',
        `${this.eva} got from ${sourceEva} a message that is not a MultiplexHub frame (${what}); it was dropped. ` +
          'Both peers must put a MultiplexHub on top of the same stack.',
        { details: { eva: this.eva, peer: sourceEva, reason: 'MALFORMED_FRAME' } },
      ),
    );
  }
}

/** TOO_LARGE when a string or binary is over `limit` bytes (UTF-8 for strings). */
function checkSize(message: unknown, limit: number, whose: string): void {
  if (typeof message !== 'string' && !isBinary(message)) return;
  const size = payloadByteLength(message);
  if (size > limit) {
    throw new VnfError(
      'TOO_LARGE',
      `Payload of ${size} bytes exceeds ${whose} limit of ${limit} bytes (the hub beneath, minus the frame header). ` +
        'Put a MarshallerHub beneath the MultiplexHub to carry large messages in chunks.',
      { details: { size, limit } },
    );
  }
}
