// A leaf file: webRtcImplementation.ts resolves an implementation and nodeWrtc.ts loads one, and both name this type;
// with it in either of them the two would import each other.

/** The three WebRTC constructors RtcHub needs: the browser's globals, `@roamhq/wrtc`, or a test double. */
export interface WebRtcImplementation {
  RTCPeerConnection: typeof RTCPeerConnection;
  RTCSessionDescription: typeof RTCSessionDescription;
  RTCIceCandidate: typeof RTCIceCandidate;
}
