import { hubConformance, subProtocolConformance } from '@vnf/conformance';
import { InBrowserHub } from '@vnf/in-browser-hub';
import { MarshallerHub } from '@vnf/marshaller-hub';
import { MultiplexHub } from '@vnf/multiplex-hub';

hubConformance('MultiplexHub(InBrowserHub)', { createHub: () => new MultiplexHub(new InBrowserHub()) });
hubConformance('MultiplexHub(MarshallerHub(InBrowserHub))', {
  createHub: () => new MultiplexHub(new MarshallerHub(new InBrowserHub())),
  payloads: 'json',
});

subProtocolConformance('MultiplexHub(InBrowserHub)', { createHub: () => new MultiplexHub(new InBrowserHub()) });
subProtocolConformance('MultiplexHub(MarshallerHub(InBrowserHub)) with small chunks', {
  createHub: () => new MultiplexHub(new MarshallerHub(new InBrowserHub({ latencyMs: 1 }), { chunkSize: 64 })),
  payloads: 'json',
});
