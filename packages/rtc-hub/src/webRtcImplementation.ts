import { VnfError } from '@vnf/core';
import { loadNodeWrtc } from './nodeWrtc';
import type { WebRtcImplementation } from './webRtcTypes';

export type { WebRtcImplementation };

function fromGlobals(): WebRtcImplementation | null {
  const g = globalThis as Partial<WebRtcImplementation>;
  if (typeof g.RTCPeerConnection !== 'function') return null;
  return {
    RTCPeerConnection: g.RTCPeerConnection,
    RTCSessionDescription: g.RTCSessionDescription as typeof RTCSessionDescription,
    RTCIceCandidate: g.RTCIceCandidate as typeof RTCIceCandidate,
  };
}

/**
 * The implementation to use when none was given: the native one where it exists (browsers), else `@roamhq/wrtc`.
 * Throws MISSING_DEPENDENCY when neither is available.
 */
export function resolveWebRtc(given: WebRtcImplementation | undefined): WebRtcImplementation {
  if (given) return given;
  const found = fromGlobals() ?? loadNodeWrtc();
  if (!found) {
    throw new VnfError(
      'MISSING_DEPENDENCY',
      'RtcHub needs WebRTC: this environment has no RTCPeerConnection and @roamhq/wrtc is not installed. ' +
        'In Node run `npm install @roamhq/wrtc`, or pass an implementation as the `wrtc` option.',
    );
  }
  return found;
}
