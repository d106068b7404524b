// The real @roamhq/wrtc with two switches, to move a connection between its paths (as packages/rtc-hub's
// controlledWrtc does): `blocked` makes every peer connection ignore the peer's ICE candidates, so no new data
// channel can connect; `breakAll()` closes every open peer connection, as a crashed WebRTC stack would.
import type { WebRtcImplementation } from '@vnf/rtc-hub';

export interface SwitchableWrtc {
  readonly impl: WebRtcImplementation;
  blocked: boolean;
  /** Peer connections created. */
  readonly created: number;
  breakAll(): void;
}

/** The real wrtc module, or null when it cannot be loaded (not installed, or no native binary for this platform). */
export function loadWrtc(): typeof import('@roamhq/wrtc') | null {
  try {
    return require('@roamhq/wrtc') as typeof import('@roamhq/wrtc');
  } catch {
    return null;
  }
}

export function switchableWrtc(wrtc: typeof import('@roamhq/wrtc') | null): SwitchableWrtc {
  if (wrtc === null) throw new Error('@roamhq/wrtc cannot be loaded: it is installed with the workspace (npm ci), and WebRTC is part of this test');
  const open = new Set<{ close(): void }>();
  let created = 0;
  const control = {
    blocked: false,
    get created() {
      return created;
    },
    breakAll(): void {
      for (const pc of [...open]) pc.close();
    },
  };
  const Base = wrtc.RTCPeerConnection as unknown as typeof RTCPeerConnection;
  class SwitchablePeerConnection extends Base {
    constructor(config?: RTCConfiguration) {
      super(config);
      created++;
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
  const impl: WebRtcImplementation = {
    RTCPeerConnection: SwitchablePeerConnection as unknown as typeof RTCPeerConnection,
    RTCSessionDescription: wrtc.RTCSessionDescription as unknown as typeof RTCSessionDescription,
    RTCIceCandidate: wrtc.RTCIceCandidate as unknown as typeof RTCIceCandidate,
  };
  return Object.assign(control, { impl });
}
