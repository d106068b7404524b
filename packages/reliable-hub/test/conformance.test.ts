import { hubConformance } from '@vnf/conformance';
import { InBrowserHub } from '@vnf/in-browser-hub';
import { UnreliableHub } from '@vnf/unreliable-hub';
import { MarshallerHub } from '@vnf/marshaller-hub';
import { ReliableHub } from '@vnf/reliable-hub';

hubConformance('ReliableHub(InBrowserHub)', {
  createHub: () => new ReliableHub(new InBrowserHub()),
});

/*
 * How long the chaos stacks get for each expected event. A message and its acknowledgement are each dropped 10 % of
 * the time, so one attempt fails about 19 % of the time, and the retransmission timeout doubles from 300 ms up to
 * 2 s: five failures in a row (p ≈ 2.5e-4 a message, and a round trip is two messages) already take 6.1 s, past the
 * suite's default 5 s — which CI met (the glare test, once). Twenty seconds is ten failures in a row (p ≈ 6e-8).
 */
const CHAOS_TIMEOUT_MS = 20_000;

hubConformance('ReliableHub(UnreliableHub(InBrowserHub)) with drop, duplicate and reorder', {
  timeoutMs: CHAOS_TIMEOUT_MS,
  createHub: () =>
    new ReliableHub(new UnreliableHub(new InBrowserHub(), { seed: 20240611, drop: 0.1, duplicate: 0.05, reorder: 0.1, jitterMs: 2 })),
  // Its multicast is datagrams, which the frames dropped beneath take with them.
  multicastMayLose: true,
});

hubConformance('MarshallerHub(ReliableHub(UnreliableHub(InBrowserHub))) with drop, duplicate and reorder', {
  timeoutMs: CHAOS_TIMEOUT_MS,
  createHub: () =>
    new MarshallerHub(
      new ReliableHub(new UnreliableHub(new InBrowserHub(), { seed: 99, drop: 0.1, duplicate: 0.05, reorder: 0.1, jitterMs: 2 })),
    ),
  payloads: 'json',
  multicastMayLose: true,
});
