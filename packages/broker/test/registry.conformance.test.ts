import { registryConformance } from '@vnf/conformance';
import type { RegistryClient } from '@vnf/core';
import { WebSocketRegistryClient } from '@vnf/registry';
import { WebSocketFactory, WebSocketHub, WebSocketRpc } from '@vnf/websocket-hub';
import { Broker } from '../src';

async function brokerFixture(connect: (factory: WebSocketFactory, eva: string, closers: (() => Promise<void>)[]) => RegistryClient) {
  const broker = new Broker();
  const { url } = await broker.listen({ port: 0, host: '127.0.0.1' });
  const factory = new WebSocketFactory(url, { reconnect: { initialDelayMs: 20, maxDelayMs: 200 } });
  const closers: (() => Promise<void>)[] = [];
  const clients: RegistryClient[] = [];
  return {
    connect: (eva: string) => {
      const client = connect(factory, eva, closers);
      clients.push(client);
      return client;
    },
    close: async () => {
      await Promise.all(clients.map((client) => client.close()));
      for (const close of closers) await close();
      await broker.close();
    },
  };
}

registryConformance('WebSocketRegistryClient over WebSocketRpc (own socket)', {
  createRegistry: () => brokerFixture((factory, eva) => new WebSocketRegistryClient(new WebSocketRpc(eva, factory))),
  timeoutMs: 10_000,
});

registryConformance('WebSocketRegistryClient over endpoint.getWebSocketRpc()', {
  createRegistry: () =>
    brokerFixture((factory, eva, closers) => {
      const hub = new WebSocketHub(factory);
      closers.push(() => hub.close());
      return new WebSocketRegistryClient(hub.openEndpoint(eva).getWebSocketRpc());
    }),
  timeoutMs: 10_000,
});
