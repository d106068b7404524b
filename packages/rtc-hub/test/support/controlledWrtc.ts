import wrtc from '@roamhq/wrtc';
import type { WebRtcImplementation } from '@vnf/rtc-hub';

export interface WrtcControl {
  impl: WebRtcImplementation;
  blocked: boolean;
  frozen: boolean;
  created: number;
  /** Peer connections created and not closed yet. */
  readonly live: number;
  breakAll(): void;
}

/**
 * The real @roamhq/wrtc with switches for tests: `blocked` makes every peer connection ignore the
 * peer's ICE candidates (so no new data channel can connect), `frozen` makes every data channel drop what
 * arrives without closing (a hung peer process: it neither reads nor closes), `breakAll()` closes every open
 * peer connection (a crashed WebRTC stack: the other side sees its channel close).
 */
export function controlledWrtc(): WrtcControl {
  const open = new Set<{ close(): void }>();
  const control: WrtcControl = {
    impl: undefined as unknown as WebRtcImplementation,
    blocked: false,
    frozen: false,
    created: 0,
    get live() {
      return open.size;
    },
    breakAll(): void {
      for (const pc of [...open]) pc.close();
    },
  };
  // simple-peer reads what arrives through `channel.onmessage`, which the native channel looks up per message.
  const freezable = (channel: RTCDataChannel): RTCDataChannel => {
    let handler: ((event: MessageEvent) => void) | null = null;
    Object.defineProperty(channel, 'onmessage', {
      configurable: true,
      get: () => handler && ((event: MessageEvent) => (control.frozen ? undefined : handler?.(event))),
      set: (fn: ((event: MessageEvent) => void) | null) => {
        handler = fn;
      },
    });
    return channel;
  };
  const Base = wrtc.RTCPeerConnection as unknown as typeof RTCPeerConnection;
  class ControlledPeerConnection extends Base {
    constructor(config?: RTCConfiguration) {
      super(config);
      control.created++;
      open.add(this);
    }
    override addIceCandidate(candidate?: RTCIceCandidateInit | null): Promise<void> {
      return control.blocked ? Promise.resolve() : super.addIceCandidate(candidate ?? undefined);
    }
    override setRemoteDescription(description: RTCSessionDescriptionInit): Promise<void> {
      if (!control.blocked || !description.sdp) return super.setRemoteDescription(description);
      const sdp = description.sdp.split('\r\n').filter((line) => !line.startsWith('a=candidate')).join('\r\n');
      return super.setRemoteDescription({ type: description.type, sdp });
    }
    override createDataChannel(label: string, init?: RTCDataChannelInit): RTCDataChannel {
      return freezable(super.createDataChannel(label, init));
    }
    override dispatchEvent(event: Event): boolean {
      if (event.type === 'datachannel') freezable((event as RTCDataChannelEvent).channel);
      return super.dispatchEvent(event);
    }
    override close(): void {
      open.delete(this);
      super.close();
    }
  }
  control.impl = {
    RTCPeerConnection: ControlledPeerConnection as unknown as typeof RTCPeerConnection,
    RTCSessionDescription: wrtc.RTCSessionDescription as unknown as typeof RTCSessionDescription,
    RTCIceCandidate: wrtc.RTCIceCandidate as unknown as typeof RTCIceCandidate,
  };
  return control;
}
