import { registryConformance } from '@vnf/conformance';
import type { RegistryClient } from '@vnf/core';
import { InBrowserRegistry, MemoryRegistryStore, RegistryService, WebSocketRegistryClient } from '@vnf/registry';
import { LoopbackRpc } from './loopbackRpc';

registryConformance('InBrowserRegistry', {
  createRegistry() {
    const registry = new InBrowserRegistry();
    const clients: RegistryClient[] = [];
    return {
      connect(eva) {
        const client = registry.connect(eva);
        clients.push(client);
        return client;
      },
      async close() {
        await Promise.all(clients.map((client) => client.close()));
      },
    };
  },
});

registryConformance('WebSocketRegistryClient + RegistryService (in-process rpc)', {
  createRegistry() {
    const service = new RegistryService(new MemoryRegistryStore());
    const clients: RegistryClient[] = [];
    return {
      connect(eva) {
        const client = new WebSocketRegistryClient(new LoopbackRpc(service, eva));
        clients.push(client);
        return client;
      },
      async close() {
        await Promise.all(clients.map((client) => client.close()));
      },
    };
  },
});
