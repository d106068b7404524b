// The two documented placements of SecureHub over WebRTC, through a real broker on 127.0.0.1 (real @roamhq/wrtc, loopback
// only, no STUN/TURN; run inside ../shared/bin/loopback-only):
//   MarshallerHub(SecureHub(ReliableRtcHub(WebSocketHub)))  — records encrypted above the reliable layer, on the
//     direct channel and on the relay alike; acknowledgements of its own (sendAcknowledged), sealed;
//   MarshallerHub(ReliableRtcHub(SecureHub(WebSocketHub)))  — signaling and relay authenticated and encrypted: the SDP
//     offer and answer, DTLS fingerprints included, travel inside SecureHub records, so the broker cannot put itself in
//     the middle of the direct channel either.
import { afterAll } from '@jest/globals';
import { hubConformance } from '@vnf/conformance';
import { MarshallerHub } from '@vnf/marshaller-hub';
import { ReliableRtcHub } from '@vnf/rtc-hub';
import { WebSocketHub } from '@vnf/websocket-hub';
import { Identity, SecureHub } from '../src';
import { startBroker, type RunningBroker } from './support/broker';

let running: RunningBroker | undefined;
afterAll(() => running?.close());
const overWebSocket = async () => {
  running ??= await startBroker();
  return new WebSocketHub(running.factory());
};
const cutTransport = (endpoint: { eva: string }): void => {
  running!.broker.terminate(endpoint.eva);
};

hubConformance('MarshallerHub(SecureHub(ReliableRtcHub(WebSocketHub))) through a real broker', {
  createHub: async () => new MarshallerHub(new SecureHub(new ReliableRtcHub(await overWebSocket()), { identity: Identity.generate() })),
  payloads: 'json',
  timeoutMs: 10_000,
  cutTransport,
  // A turn's multicasts to one target set are one record under that set's key (README, Sender keys).
  multicastGroupedPerTargetSet: true,
});

hubConformance('MarshallerHub(ReliableRtcHub(SecureHub(WebSocketHub))) through a real broker', {
  createHub: async () => new MarshallerHub(new ReliableRtcHub(new SecureHub(await overWebSocket(), { identity: Identity.generate() }))),
  payloads: 'json',
  timeoutMs: 10_000,
  cutTransport,
});
