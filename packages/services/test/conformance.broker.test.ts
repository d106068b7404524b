// The service conformance suite over a real broker on 127.0.0.1 (run inside the loopback-only namespace):
// MultiplexHub(WebSocketHub), each peer with its own socket and a WebSocketRegistryClient on it.
import { afterAll, beforeAll } from '@jest/globals';
import { Broker } from '@vnf/broker';
import { serviceConformance } from '@vnf/conformance';
import type { MultiplexingEndpoint, RegistryClient } from '@vnf/core';
import { MultiplexHub } from '@vnf/multiplex-hub';
import { WebSocketRegistryClient } from '@vnf/registry';
import { PeerServices } from '@vnf/services';
import { WebSocketFactory, WebSocketHub, type VnfSocket } from '@vnf/websocket-hub';

/**
 * The broker's grace for a cut socket, ms. Its connections are reported lost at once; its eva and registry entries (its
 * ads) stay until the grace ends, so callAny meets an advertised provider it cannot reach.
 */
const GRACE_MS = 3000;

let broker: Broker;
let url: string;
beforeAll(async () => {
  broker = new Broker({ evaGraceMs: GRACE_MS });
  ({ url } = await broker.listen({ port: 0, host: '127.0.0.1' }));
});
afterAll(() => broker.close());

/** Nothing listens there: a socket to it fails at once, as a reconnect of a crashed process never comes. */
const NOWHERE = new WebSocketFactory('ws://127.0.0.1:1/');

/** A factory whose sockets go nowhere once `blocked`: a killed peer does not come back. */
class GatedFactory extends WebSocketFactory {
  blocked = false;

  override create(): VnfSocket {
    return this.blocked ? NOWHERE.create() : super.create();
  }
}

serviceConformance('PeerServices over MultiplexHub(WebSocketHub) through a real broker', {
  createNetwork: () => {
    const peers = new Map<string, { hub: MultiplexHub; factory: GatedFactory; registry: RegistryClient }>();
    return {
      open(eva: string) {
        const factory = new GatedFactory(url, { reconnect: { initialDelayMs: 20, maxDelayMs: 200 } });
        const webSocketHub = new WebSocketHub(factory);
        const hub = new MultiplexHub(webSocketHub);
        // The MultiplexHub's endpoint first: it opens the WebSocketEndpoint beneath shared, and the registry rides its socket.
        const endpoint = hub.openEndpoint(eva);
        const registry = new WebSocketRegistryClient(webSocketHub.openEndpoint(eva).getWebSocketRpc());
        peers.set(eva, { hub, factory, registry });
        return { endpoint, registry };
      },
      kill(eva: string) {
        // Cut on the broker's side with no close handshake, and no reconnect: as kill -9 of the peer's process.
        const peer = peers.get(eva)!;
        peer.factory.blocked = true;
        if (!broker.terminate(eva)) throw new Error(`No socket of ${eva} on the broker to cut.`);
      },
      async close() {
        for (const peer of peers.values()) {
          await peer.registry.close().catch(() => undefined);
          await peer.hub.close();
        }
      },
    };
  },
  createServices: (endpoint: MultiplexingEndpoint, options: { registry: RegistryClient; maxPendingCalls?: number }) => new PeerServices(endpoint, options),
  timeoutMs: 10_000,
  // The broker reports a cut peer's connections lost as soon as it sees the socket end.
  lossBoundMs: 5_000,
});
