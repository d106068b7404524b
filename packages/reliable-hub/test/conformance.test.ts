import { hubConformance } from '@vnf/conformance';
import { InBrowserHub } from '@vnf/in-browser-hub';
import { UnreliableHub } from '@vnf/unreliable-hub';
import { MarshallerHub } from '@vnf/marshaller-hub';
import { ReliableHub } from '@vnf/reliable-hub';

hubConformance('ReliableHub(InBrowserHub)', {
  createHub: () => new ReliableHub(new InBrowserHub()),
});

hubConformance('ReliableHub(UnreliableHub(InBrowserHub)) with drop, duplicate and reorder', {
  createHub: () =>
    new ReliableHub(new UnreliableHub(new InBrowserHub(), { seed: 20240611, drop: 0.1, duplicate: 0.05, reorder: 0.1, jitterMs: 2 })),
  // Its multicast is datagrams, which the frames dropped beneath take with them.
  multicastMayLose: true,
});

hubConformance('MarshallerHub(ReliableHub(UnreliableHub(InBrowserHub))) with drop, duplicate and reorder', {
  createHub: () =>
    new MarshallerHub(
      new ReliableHub(new UnreliableHub(new InBrowserHub(), { seed: 99, drop: 0.1, duplicate: 0.05, reorder: 0.1, jitterMs: 2 })),
    ),
  payloads: 'json',
  multicastMayLose: true,
});
