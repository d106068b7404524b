import { serviceConformance } from '@vnf/conformance';
import { InBrowserHub } from '@vnf/in-browser-hub';
import { MarshallerHub } from '@vnf/marshaller-hub';
import { MultiplexHub } from '@vnf/multiplex-hub';
import { InBrowserRegistry } from '@vnf/registry';
import { PeerServices } from '@vnf/services';
import type { Hub, MultiplexingEndpoint, RegistryClient } from '@vnf/core';

/** Peers in one page: one hub, one in-page registry; a killed peer's endpoint is destroyed and its registry client dropped. */
function inPage(hub: Hub<MultiplexingEndpoint>) {
  const registry = new InBrowserRegistry();
  const peers = new Map<string, { endpoint: MultiplexingEndpoint; registry: RegistryClient }>();
  return {
    open(eva: string) {
      const peer = { endpoint: hub.openEndpoint(eva), registry: registry.connect(eva) };
      peers.set(eva, peer);
      return peer;
    },
    async kill(eva: string) {
      const peer = peers.get(eva)!;
      peer.endpoint.destroy();
      await registry.drop(peer.registry);
    },
    async close() {
      await Promise.all([...peers.values()].map((peer) => peer.registry.close().catch(() => undefined)));
      await hub.close();
    },
  };
}

const createServices = (endpoint: MultiplexingEndpoint, options: { registry: RegistryClient; maxPendingCalls?: number }) => new PeerServices(endpoint, options);

serviceConformance('PeerServices over MultiplexHub(InBrowserHub)', {
  createNetwork: () => inPage(new MultiplexHub(new InBrowserHub())),
  createServices,
});

serviceConformance('PeerServices over MultiplexHub(MarshallerHub(InBrowserHub))', {
  createNetwork: () => inPage(new MultiplexHub(new MarshallerHub(new InBrowserHub()))),
  createServices,
  carriesBinary: true,
});

// Regression (the service suite over a real broker found it, when a callAny landed just after a killed provider's grace
// ended; fixed in ba0c0bd): a provider still advertised whose endpoint is gone answers openConnection with NOT_FOUND.
// The call never reached it, so callAny goes on to another provider, even for a call not marked idempotent.
describe('callAny over an ad that outlived its provider (in-page)', () => {
  it('skips the provider whose endpoint is gone (NOT_FOUND on connect), even for a call not marked idempotent', async () => {
    const hub = new MultiplexHub(new InBrowserHub());
    const registry = new InBrowserRegistry();
    const endpoints = ['caller', 'alive', 'gone'].map((eva) => hub.openEndpoint(eva));
    const [caller, alive, gone] = endpoints.map((endpoint) => new PeerServices(endpoint, { registry: registry.connect(endpoint.eva) }));
    try {
      const ran: string[] = [];
      for (const provider of [alive!, gone!]) {
        await provider.provide('job', () => {
          ran.push(provider.eva);
          return provider.eva;
        }, { advertise: true }).advertised;
      }
      // Its endpoint goes, its registry client stays: its ad outlives it.
      endpoints[2]!.destroy();
      const results: unknown[] = [];
      for (let i = 0; i < 4; i++) results.push(await caller!.callAny('job', i, { timeoutMs: 5000 }));
      expect(results).toEqual(['alive', 'alive', 'alive', 'alive']);
      expect(ran).toEqual(['alive', 'alive', 'alive', 'alive']);
    } finally {
      await Promise.all([caller!.close(), alive!.close(), gone!.close()]);
      await hub.close();
    }
  });
});
