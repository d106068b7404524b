import { hubConformance } from '@vnf/conformance';
import type { Endpoint, Hub } from '@vnf/core';
import { InBrowserHub } from '@vnf/in-browser-hub';
import { UnreliableHub } from '../src';

/** The suite checks that its black hole swallows a multicast as it swallows a send. */
const blackhole = (hub: Hub, from: Endpoint, to: Endpoint, on: boolean): void =>
  (hub as UnreliableHub).chaos.blackhole(from.eva, to.eva, on, { oneWay: true });

hubConformance('UnreliableHub(InBrowserHub) with no rules', { createHub: () => new UnreliableHub(new InBrowserHub()), blackhole });
hubConformance('UnreliableHub(InBrowserHub) with a constant 5 ms delay', {
  createHub: () => new UnreliableHub(new InBrowserHub(), { seed: 7, latencyMs: 5 }),
  messageCount: 100,
  blackhole,
});
hubConformance('UnreliableHub(InBrowserHub) with a bandwidth cap', {
  createHub: () => new UnreliableHub(new InBrowserHub(), { seed: 7, bytesPerSecond: 10 * 1024 * 1024 }),
  messageCount: 100,
  blackhole,
});
