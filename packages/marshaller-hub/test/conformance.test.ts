import { hubConformance } from '@vnf/conformance';
import { InBrowserHub } from '@vnf/in-browser-hub';
import { MarshallerHub } from '../src';

hubConformance('MarshallerHub(InBrowserHub)', { createHub: () => new MarshallerHub(new InBrowserHub()), payloads: 'json' });
hubConformance('MarshallerHub(InBrowserHub) with small chunks and strictOrder', {
  createHub: () => new MarshallerHub(new InBrowserHub({ latencyMs: 1 }), { chunkSize: 64, strictOrder: true }),
  payloads: 'json',
  messageCount: 50,
});
