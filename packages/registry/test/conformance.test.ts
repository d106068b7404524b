import { registryConformance } from '@vnf/conformance';
import type { RegistryClient } from '@vnf/core';
import { InBrowserRegistry, MemoryRegistryStore, RegistryService, WebSocketRegistryClient } from '@vnf/registry';
import { LoopbackRpc } from './loopbackRpc';

registryConformance('InBrowserRegistry', {
  createRegistry() {
    const registry = new InBrowserRegistry();
    const clients: RegistryClient[] = [];
    const connect = (eva: string): RegistryClient => {
      const client = registry.connect(eva);
      clients.push(client);
      return client;
    };
    return {
      connect,
      connectAgain: connect,
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
    const rpcs = new Map<string, LoopbackRpc>();
    return {
      connect(eva) {
        const rpc = new LoopbackRpc(service, eva);
        rpcs.set(eva, rpc);
        const client = new WebSocketRegistryClient(rpc);
        clients.push(client);
        return client;
      },
      // Like two endpoint.getWebSocketRpc() of one endpoint: two clients on one channel, hence one broker session.
      connectAgain(eva) {
        const rpc = rpcs.get(eva)!;
        rpc.shared = true;
        const client = new WebSocketRegistryClient(rpc);
        clients.push(client);
        return client;
      },
      async close() {
        await Promise.all(clients.map((client) => client.close()));
        for (const rpc of rpcs.values()) {
          rpc.shared = false;
          await rpc.close();
        }
      },
    };
  },
});
