import { hubConformance } from '@vnf/conformance';
import { InBrowserHub } from '@vnf/in-browser-hub';
import { UnreliableHub } from '../src';

hubConformance('UnreliableHub(InBrowserHub) with no rules', { createHub: () => new UnreliableHub(new InBrowserHub()) });
hubConformance('UnreliableHub(InBrowserHub) with a constant 5 ms delay', {
  createHub: () => new UnreliableHub(new InBrowserHub(), { seed: 7, latencyMs: 5 }),
  messageCount: 100,
});
hubConformance('UnreliableHub(InBrowserHub) with a bandwidth cap', {
  createHub: () => new UnreliableHub(new InBrowserHub(), { seed: 7, bytesPerSecond: 10 * 1024 * 1024 }),
  messageCount: 100,
});
