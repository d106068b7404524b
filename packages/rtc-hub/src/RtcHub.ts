import { AbstractHub, VnfError, openInnerEndpoint } from '@vnf/core';
import type { Hub } from '@vnf/core';
import { LingeringLinks } from './lingeringLinks';
import { pendingClosesDone } from './peerTeardown';
import { RtcEndpoint } from './RtcEndpoint';
import { resolveOptions, type ResolvedRtcHubOptions, type RtcHubOptions } from './options';
import { resolveWebRtc, type WebRtcImplementation } from './webRtcImplementation';

/** Longest `close()` waits for peers to read what closed channels still carry; then they are closed at once. */
const CLOSE_LINGER_CAP_MS = 2000;

/**
 * A wire hub on WebRTC data channels. Offers, answers and ICE candidates travel over `signalingHub`
 * (a WebSocketHub in production, an InBrowserHub in tests); each RtcHub endpoint uses the signaling
 * endpoint of the same eva. The RtcHub owns the signaling hub: `close()` closes it too.
 */
export class RtcHub extends AbstractHub<RtcEndpoint> {
  readonly maxPayloadSize: number;
  readonly signalingHub: Hub;
  private readonly options: ResolvedRtcHubOptions;
  private readonly wrtc: WebRtcImplementation;
  private readonly lingering = new LingeringLinks();

  constructor(signalingHub: Hub, options: RtcHubOptions = {}) {
    super();
    if (!signalingHub || typeof signalingHub.openEndpoint !== 'function') {
      throw new VnfError('INVALID_ARGUMENT', 'RtcHub needs a signaling hub, for example new RtcHub(new WebSocketHub(factory)).');
    }
    this.signalingHub = signalingHub;
    this.options = resolveOptions(options, signalingHub);
    this.maxPayloadSize = this.options.maxPayloadSize;
    this.wrtc = resolveWebRtc(this.options.wrtc);
  }

  /** Bytes queued toward a peer (this layer's queue and the data channel's, or the relay's) past which `drain` is owed. */
  get highWaterMark(): number {
    return this.options.highWaterMark;
  }

  get lowWaterMark(): number {
    return this.options.lowWaterMark;
  }

  protected createEndpoint(eva: string, release: () => void): RtcEndpoint {
    const signaling = openInnerEndpoint(this.signalingHub, eva);
    try {
      return new RtcEndpoint(signaling, this.options, this.wrtc, { onDestroyed: release, highWaterMark: this.highWaterMark, lowWaterMark: this.lowWaterMark }, this.lingering);
    } catch (err) {
      signaling.destroy();
      throw err;
    }
  }

  protected override async closeHub(): Promise<void> {
    await Promise.all([this.lingering.settle(Math.min(this.options.iceTimeoutMs, CLOSE_LINGER_CAP_MS)), this.signalingHub.close()]);
    await pendingClosesDone();
  }
}
