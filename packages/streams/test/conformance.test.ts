import { streamConformance } from '@vnf/conformance';
import type { Hub, MultiplexingEndpoint } from '@vnf/core';
import { InBrowserHub } from '@vnf/in-browser-hub';
import { MarshallerHub } from '@vnf/marshaller-hub';
import { MultiplexHub } from '@vnf/multiplex-hub';
import { PeerStreams } from '@vnf/streams';
import { UnreliableHub } from '@vnf/unreliable-hub';

/** Peers in one page; `cut` drops their connection as a broken transport would (UnreliableHub's cut). */
function inPage(stack: (unreliable: UnreliableHub) => Hub, beneath: (inner: Hub) => Hub) {
  const unreliable = new UnreliableHub(new InBrowserHub());
  const hub = new MultiplexHub(beneath(stack(unreliable)));
  return {
    open: (eva: string) => hub.openEndpoint(eva),
    cut: (a: string, b: string) => void unreliable.chaos.cut(a, b),
    close: () => hub.close(),
  };
}

const createStreams = (endpoint: MultiplexingEndpoint, options: ConstructorParameters<typeof PeerStreams>[1]) => new PeerStreams(endpoint, options);

streamConformance('PeerStreams over MultiplexHub(UnreliableHub(InBrowserHub))', {
  createNetwork: (beneath) => inPage((unreliable) => unreliable, beneath),
  createStreams,
});

streamConformance('PeerStreams over MultiplexHub(MarshallerHub(UnreliableHub(InBrowserHub)))', {
  createNetwork: (beneath) => inPage((unreliable) => new MarshallerHub(unreliable), beneath),
  createStreams,
});
