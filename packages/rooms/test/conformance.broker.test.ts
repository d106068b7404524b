// The room conformance suite through a real broker on 127.0.0.1 (run inside the loopback-only namespace): each member
// its own WebSocketHub and registry client on its socket; over the bare WebSocketHub, encrypted (SecureHub, sender keys) and over a 5 %-drop chaos stack.
import { afterAll, beforeAll } from '@jest/globals';
import { roomConformance } from '@vnf/conformance';
import type { MultiplexingEndpoint, RegistryClient } from '@vnf/core';
import { MarshallerHub } from '@vnf/marshaller-hub';
import { ReliableHub } from '@vnf/reliable-hub';
import { Room } from '@vnf/rooms';
import { Identity, SecureHub } from '@vnf/secure-hub';
import { UnreliableHub } from '@vnf/unreliable-hub';
import { startBrokerNetworks } from './support/brokerNetwork';

/** The broker's grace for a cut socket, ms: a killed member leaves once it ends. */
const GRACE_MS = 1000;
/** The chaos seed: from VNF_CHAOS_SEED to replay a failure, printed in the suite's name. */
const SEED = Number(process.env.VNF_CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));

let networks: Awaited<ReturnType<typeof startBrokerNetworks>>;
beforeAll(async () => {
  networks = await startBrokerNetworks({ evaGraceMs: GRACE_MS });
});
afterAll(() => networks.close());

const createRoom = (endpoint: MultiplexingEndpoint, options: { registry: RegistryClient; name: string; info?: unknown }) => new Room(endpoint, options);

roomConformance('Room over MultiplexHub(WebSocketHub) through a real broker', {
  createNetwork: () => networks.network((webSocketHub) => webSocketHub),
  createRoom,
  timeoutMs: 10_000,
  leaveBoundMs: GRACE_MS + 2_000,
});

// Encrypted end to end with sender keys: each broadcast is one ciphertext, signed, that the broker fans out.
roomConformance('Room over MultiplexHub(MarshallerHub(SecureHub(WebSocketHub))) through a real broker', {
  createNetwork: () => networks.network((webSocketHub) => new MarshallerHub(new SecureHub(webSocketHub, { identity: Identity.generate() }))),
  createRoom,
  timeoutMs: 10_000,
  leaveBoundMs: GRACE_MS + 2_000,
});

let peerSeed = SEED;
roomConformance(`Room over MultiplexHub(ReliableHub(UnreliableHub(WebSocketHub, drop 5 %))) through a real broker (seed ${SEED})`, {
  // connectTimeoutMs as a lossy link wants it: an open whose answers are lost fails after 3 s and the room opens the
  // connection again, rather than waiting out the 10 s default within the suite's 10 s waits (seen once in CI: an
  // open of this stack went unanswered for seconds while its peer had accepted it).
  createNetwork: () =>
    networks.network(
      (webSocketHub) => new ReliableHub(new UnreliableHub(webSocketHub, { seed: peerSeed++, drop: 0.05 }), { heartbeatIntervalMs: 200, heartbeatTimeoutMs: 1000, restoreTimeoutMs: 3000, connectTimeoutMs: 3000 }),
      // Not stalled here: ReliableHub's own unicast toward a member that stops reading (heartbeats, retransmissions)
      // can pass the broker's relayHighWaterMark and hold the sender back (a known gap, in the closing note).
      { stall: false },
    ),
  createRoom,
  timeoutMs: 10_000,
  leaveBoundMs: GRACE_MS + 4_000,
});
