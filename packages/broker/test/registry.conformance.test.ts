import { registryConformance } from '@vnf/conformance';
import type { RegistryClient } from '@vnf/core';
import { WebSocketRegistryClient } from '@vnf/registry';
import { WebSocketFactory, WebSocketHub, WebSocketRpc, type WebSocketEndpoint } from '@vnf/websocket-hub';
import { Broker } from '../src';

type Connect = (factory: WebSocketFactory, eva: string, closers: (() => Promise<void>)[]) => RegistryClient;

async function brokerFixture(connect: Connect, connectAgain?: (eva: string) => RegistryClient) {
  const broker = new Broker();
  const { url } = await broker.listen({ port: 0, host: '127.0.0.1' });
  const factory = new WebSocketFactory(url, { reconnect: { initialDelayMs: 20, maxDelayMs: 200 } });
  const closers: (() => Promise<void>)[] = [];
  const clients: RegistryClient[] = [];
  const track = (client: RegistryClient): RegistryClient => {
    clients.push(client);
    return client;
  };
  return {
    connect: (eva: string) => track(connect(factory, eva, closers)),
    ...(connectAgain && { connectAgain: (eva: string) => track(connectAgain(eva)) }),
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
  createRegistry: () => {
    // A second client of an eva shares that eva's endpoint socket: the broker's shared-owner case.
    const endpoints = new Map<string, WebSocketEndpoint>();
    return brokerFixture(
      (factory, eva, closers) => {
        const hub = new WebSocketHub(factory);
        closers.push(() => hub.close());
        const endpoint = hub.openEndpoint(eva);
        endpoints.set(eva, endpoint);
        return new WebSocketRegistryClient(endpoint.getWebSocketRpc());
      },
      (eva) => new WebSocketRegistryClient(endpoints.get(eva)!.getWebSocketRpc()),
    );
  },
  timeoutMs: 10_000,
});
