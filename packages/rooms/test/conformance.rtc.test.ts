// The room conformance suite over real WebRTC (@roamhq/wrtc, loopback only, no STUN) signalled through a real broker
// on 127.0.0.1: MultiplexHub(ReliableRtcHub(WebSocketHub)), broadcasts over direct links (a mesh) and the relay.
import { afterAll, beforeAll } from '@jest/globals';
import { roomConformance } from '@vnf/conformance';
import type { MultiplexingEndpoint, RegistryClient } from '@vnf/core';
import { Room } from '@vnf/rooms';
import { ReliableRtcHub } from '@vnf/rtc-hub';
import { startBrokerNetworks } from './support/brokerNetwork';

const GRACE_MS = 1000;
const RTC = { iceTimeoutMs: 1500, connectTimeoutMs: 5000 };
const RELIABLE = { heartbeatIntervalMs: 200, heartbeatTimeoutMs: 1000, restoreTimeoutMs: 2000 };

let networks: Awaited<ReturnType<typeof startBrokerNetworks>>;
beforeAll(async () => {
  networks = await startBrokerNetworks({ evaGraceMs: GRACE_MS });
});
afterAll(() => networks.close());

// With forceRelay: the suite opens and closes some seventy peer connections in ten seconds, and @roamhq/wrtc
// segfaults now and then under that churn (WonderInventions/node-webrtc#35), which would fail CI by chance. The
// mesh path of a room (broadcasts on direct channels) runs in packages/vnf/test/e2e/rooms.test.ts and in
// packages/rtc-hub/test/RtcEndpoint.test.ts; this suite checks the room over ReliableRtcHub's relay path.
roomConformance('Room over MultiplexHub(ReliableRtcHub(WebSocketHub, forceRelay)) through a real broker', {
  createNetwork: () => networks.network((webSocketHub) => new ReliableRtcHub(webSocketHub, { rtc: { ...RTC, forceRelay: true }, reliable: RELIABLE }), {
      // Its direct links do not go through the socket: pausing it would not freeze a member.
      stall: false,
    }),
  createRoom: (endpoint: MultiplexingEndpoint, options: { registry: RegistryClient; name: string; info?: unknown }) => new Room(endpoint, options),
  timeoutMs: 15_000,
  leaveBoundMs: GRACE_MS + RELIABLE.heartbeatTimeoutMs + RELIABLE.restoreTimeoutMs + RTC.connectTimeoutMs + 2_000,
});
