// The stream conformance suite over real WebRTC (@roamhq/wrtc, loopback only, no STUN) signalled through a real broker
// on 127.0.0.1: MultiplexHub(RtcHub(WebSocketHub)) without relay fallback. A cut closes the sender's data channel:
// both sides lose the connection and PeerStreams negotiates a new channel and resumes on it.
import { afterAll, beforeAll } from '@jest/globals';
import wrtc from '@roamhq/wrtc';
import { Broker } from '@vnf/broker';
import { streamConformance } from '@vnf/conformance';
import type { Hub, MultiplexingEndpoint } from '@vnf/core';
import { MultiplexHub } from '@vnf/multiplex-hub';
import { RtcHub, type WebRtcImplementation } from '@vnf/rtc-hub';
import { PeerStreams } from '@vnf/streams';
import { WebSocketFactory, WebSocketHub } from '@vnf/websocket-hub';

let broker: Broker;
let url: string;
beforeAll(async () => {
  broker = new Broker();
  ({ url } = await broker.listen({ port: 0, host: '127.0.0.1' }));
});
afterAll(() => broker.close());

/** The real @roamhq/wrtc of one peer, remembering its data channels so that a test can close them. */
function recordingWrtc(): { impl: WebRtcImplementation; channels: RTCDataChannel[] } {
  const channels: RTCDataChannel[] = [];
  const Base = wrtc.RTCPeerConnection as unknown as typeof RTCPeerConnection;
  class RecordingPeerConnection extends Base {
    override createDataChannel(label: string, init?: RTCDataChannelInit): RTCDataChannel {
      const channel = super.createDataChannel(label, init);
      channels.push(channel);
      return channel;
    }
    override dispatchEvent(event: Event): boolean {
      if (event.type === 'datachannel') channels.push((event as RTCDataChannelEvent).channel);
      return super.dispatchEvent(event);
    }
  }
  return {
    impl: {
      RTCPeerConnection: RecordingPeerConnection as unknown as typeof RTCPeerConnection,
      RTCSessionDescription: wrtc.RTCSessionDescription as unknown as typeof RTCSessionDescription,
      RTCIceCandidate: wrtc.RTCIceCandidate as unknown as typeof RTCIceCandidate,
    },
    channels,
  };
}

streamConformance('PeerStreams over MultiplexHub(RtcHub(WebSocketHub)) through a real broker', {
  createNetwork: (beneath: (inner: Hub) => Hub) => {
    const hubs: Hub[] = [];
    const recorders = new Map<string, RTCDataChannel[]>();
    return {
      open(eva: string) {
        const rtc = recordingWrtc();
        recorders.set(eva, rtc.channels);
        const signaling = new WebSocketHub(new WebSocketFactory(url));
        const hub = new MultiplexHub(beneath(new RtcHub(signaling, { wrtc: rtc.impl, iceServers: [], iceTimeoutMs: 3000 })));
        hubs.push(hub);
        return hub.openEndpoint(eva);
      },
      cut(a: string) {
        const open = recorders.get(a)!.filter((channel) => channel.readyState === 'open');
        if (open.length === 0) throw new Error(`No open data channel of ${a} to close.`);
        for (const channel of open) channel.close();
      },
      async close() {
        await Promise.all(hubs.map((hub) => hub.close()));
      },
    };
  },
  createStreams: (endpoint: MultiplexingEndpoint, options) => new PeerStreams(endpoint, options),
  sizeBytes: 2 * 1024 * 1024,
  timeoutMs: 15_000,
});
