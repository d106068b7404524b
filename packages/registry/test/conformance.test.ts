import { registryConformance, waitFor } from '@vnf/conformance';
import { defaultAuthorize, type RegistryAuthorize, type RegistryClient } from '@vnf/core';
import { InBrowserRegistry, MemoryRegistryStore, RegistryService, WebSocketRegistryClient } from '@vnf/registry';
import { LoopbackRpc } from './loopbackRpc';

/** The conformance fixtures' rule: retained entries (and wills with a value) in `conformance-retained*` collections. */
const authorize: RegistryAuthorize = (subject, action, resource) =>
  resource.collection.startsWith('conformance-retained') || defaultAuthorize(subject, action, resource);

registryConformance('InBrowserRegistry', {
  createRegistry(options = {}) {
    const registry = new InBrowserRegistry({ authorize, ...(options.maxLogEntries !== undefined && { maxLogEntries: options.maxLogEntries }) });
    const clients: RegistryClient[] = [];
    const connect = (eva: string): RegistryClient => {
      const client = registry.connect(eva);
      clients.push(client);
      return client;
    };
    return {
      connect,
      connectAgain: connect,
      dropUncleanly: (client) => registry.drop(client),
      async close() {
        await Promise.all(clients.map((client) => client.close()));
      },
    };
  },
});

registryConformance('WebSocketRegistryClient + RegistryService (in-process rpc)', {
  createRegistry(options = {}) {
    const store = new MemoryRegistryStore(options.maxLogEntries !== undefined ? { maxLogEntries: options.maxLogEntries } : {});
    const service = new RegistryService(store, { authorize });
    const clients: RegistryClient[] = [];
    const rpcs = new Map<string, LoopbackRpc>();
    const rpcOf = new Map<RegistryClient, LoopbackRpc>();
    const resynced = (client: RegistryClient): Promise<void> =>
      waitFor(`${client.owner} resynced`, 10_000, (done) => (client as WebSocketRegistryClient).once('resynced', () => done(undefined)));
    return {
      connect(eva) {
        const rpc = new LoopbackRpc(service, eva);
        rpcs.set(eva, rpc);
        const client = new WebSocketRegistryClient(rpc);
        clients.push(client);
        rpcOf.set(client, rpc);
        return client;
      },
      // Like two endpoint.getWebSocketRpc() of one endpoint: two clients on one channel, hence one broker session.
      connectAgain(eva) {
        const rpc = rpcs.get(eva)!;
        rpc.shared = true;
        const client = new WebSocketRegistryClient(rpc);
        clients.push(client);
        rpcOf.set(client, rpc);
        return client;
      },
      // The channel is lost and its grace runs out (the session ends, its wills apply); then it comes back, a new session.
      async dropUncleanly(client) {
        const rpc = rpcOf.get(client)!;
        await rpc.drop({ unclean: true });
        const back = resynced(client);
        rpc.restore();
        await back;
      },
      // The channel is lost and comes back within the grace: the same session.
      async interrupt(client, whileDown) {
        const rpc = rpcOf.get(client)!;
        rpc.interrupt();
        await whileDown?.();
        const back = resynced(client);
        rpc.resume();
        await back;
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
