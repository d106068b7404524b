import { DecoratorEndpoint, DecoratorHub, VnfError } from '@vnf/core';
import type { Endpoint, EndpointOptions, Hub } from '@vnf/core';

/**
 * A test layer with a send buffer the test controls, like a socket on a slow link: frames wait until `release()`,
 * `bufferedAmount` counts them, and (unless `emitsDrain` is false) `drain` fires after a release. With `maxHeldFrames`,
 * it refuses a frame with BUFFER_FULL while it holds that many, as ReliableHub does at its limit of messages in flight
 * (which its bytes-only `bufferedAmount` does not show).
 */
export class GatedEndpoint extends DecoratorEndpoint {
  readonly held: { peer: string; frame: Uint8Array }[] = [];
  /** The most bytes ever held at once. */
  peakBuffered = 0;
  framesSeen = 0;
  largestFrame = 0;
  private frameListeners: (() => void)[] = [];

  /** Frames refused with BUFFER_FULL. */
  refused = 0;

  constructor(
    inner: Endpoint,
    options: EndpointOptions,
    private readonly emitsDrain: boolean,
    private readonly maxHeldFrames: number,
  ) {
    super(inner, options);
  }

  override bufferedAmount(targetEva: string): number {
    let bytes = 0;
    for (const { peer, frame } of this.held) if (peer === targetEva) bytes += frame.byteLength;
    return bytes;
  }

  /** Resolves at the next frame handed to this layer. */
  nextFrame(): Promise<void> {
    return new Promise((resolve) => this.frameListeners.push(resolve));
  }

  /** Passes every held frame on and signals drain. */
  release(): void {
    const frames = this.held.splice(0);
    for (const { peer, frame } of frames) this.inner.send(peer, frame);
    if (this.emitsDrain) for (const peer of new Set(frames.map((f) => f.peer))) this.emit('drain', peer);
  }

  protected override transmit(targetEva: string, message: unknown): void {
    const frame = message as Uint8Array;
    if (this.held.length >= this.maxHeldFrames) {
      this.refused++;
      throw new VnfError('BUFFER_FULL', `GatedEndpoint holds ${this.held.length} frames; release() them first.`);
    }
    this.held.push({ peer: targetEva, frame });
    this.framesSeen++;
    this.largestFrame = Math.max(this.largestFrame, frame.byteLength);
    this.peakBuffered = Math.max(this.peakBuffered, this.bufferedAmount(targetEva));
    const listeners = this.frameListeners;
    this.frameListeners = [];
    for (const listener of listeners) listener();
  }
}

export class GatedHub extends DecoratorHub<GatedEndpoint> {
  constructor(
    inner: Hub,
    private readonly emitsDrain = true,
    private readonly maxHeldFrames = Infinity,
    private readonly gateHighWaterMark = 64 * 1024,
  ) {
    super(inner);
  }

  /** A gate that emits drain says so with finite marks; one that never does, with an infinite high mark. */
  override get highWaterMark(): number {
    return this.emitsDrain ? this.gateHighWaterMark : Infinity;
  }

  override get lowWaterMark(): number {
    return 0;
  }

  protected override wrapEndpoint(inner: Endpoint, options: EndpointOptions): GatedEndpoint {
    return new GatedEndpoint(inner, options, this.emitsDrain, this.maxHeldFrames);
  }
}
