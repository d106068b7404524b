import wrtc from '@roamhq/wrtc';
import type { WebRtcImplementation } from '@vnf/rtc-hub';

/**
 * The real @roamhq/wrtc with two switches for tests: `blocked` makes every peer connection ignore the
 * peer's ICE candidates (so no new data channel can connect), `breakAll()` closes every open peer connection
 * (a crashed WebRTC stack: the other side sees its channel close).
 */
export function controlledWrtc(): { impl: WebRtcImplementation; blocked: boolean; created: number; breakAll(): void } {
  const open = new Set<{ close(): void }>();
  const control = {
    impl: undefined as unknown as WebRtcImplementation,
    blocked: false,
    created: 0,
    breakAll(): void {
      for (const pc of [...open]) pc.close();
    },
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
