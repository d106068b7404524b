import { Broker } from '@vnf/broker';
import type { RoomNetwork } from '@vnf/conformance';
import type { Hub, MultiplexingEndpoint, RegistryClient } from '@vnf/core';
import { MultiplexHub } from '@vnf/multiplex-hub';
import { WebSocketRegistryClient } from '@vnf/registry';
import { WebSocketFactory, WebSocketHub, type VnfSocket } from '@vnf/websocket-hub';

/** Nothing listens there: a socket to it fails at once, as a reconnect of a crashed process never comes. */
const NOWHERE = new WebSocketFactory('ws://127.0.0.1:1/');

/** `ws`'s WebSocket in Node: it can stop reading its socket (TCP then fills up toward the broker). */
type PausableSocket = VnfSocket & { pause?(): void; resume?(): void };

/** A factory whose sockets go nowhere once `blocked` (a killed peer does not come back), and that can pause its socket. */
class PeerFactory extends WebSocketFactory {
  blocked = false;
  socket: PausableSocket | null = null;

  override create(): VnfSocket {
    if (this.blocked) return NOWHERE.create();
    this.socket = super.create() as PausableSocket;
    return this.socket;
  }
}

/** A room network over one broker or over several of one cluster; each member's stack over its own WebSocketHub. */
export interface BrokerNetworks {
  network(stack: (webSocketHub: WebSocketHub, eva: string) => Hub, options?: { stall?: boolean }): RoomNetwork;
}

/** A real broker on 127.0.0.1 (port 0) and the stack each peer builds over its own WebSocketHub. */
export async function startBrokerNetworks(options: { evaGraceMs: number }): Promise<BrokerNetworks & { broker: Broker; close(): Promise<void> }> {
  const broker = new Broker({ evaGraceMs: options.evaGraceMs });
  const { url } = await broker.listen({ port: 0, host: '127.0.0.1' });
  return { broker, ...brokerNetworks([{ broker, url }]), close: () => broker.close() };
}

/**
 * Room networks over these brokers (already listening; several: one cluster): the members go to the brokers in
 * turn, the first joined on the first broker, the second on the second, so that a room spans every broker.
 */
export function brokerNetworks(brokers: readonly { broker: Broker; url: string }[]): BrokerNetworks {
  return {
    network(stack, { stall = true } = {}) {
      const peers = new Map<string, { hub: MultiplexHub; factory: PeerFactory; registry: RegistryClient }>();
      const network: RoomNetwork = {
        open(eva: string) {
          const { url } = brokers[peers.size % brokers.length];
          const factory = new PeerFactory(url, { reconnect: { initialDelayMs: 20, maxDelayMs: 200 } });
          const webSocketHub = new WebSocketHub(factory);
          const hub = new MultiplexHub(stack(webSocketHub, eva));
          // The MultiplexHub's endpoint first: it opens the WebSocketEndpoint beneath shared, and the registry rides its socket.
          const endpoint: MultiplexingEndpoint = hub.openEndpoint(eva);
          const registry = new WebSocketRegistryClient(webSocketHub.openEndpoint(eva).getWebSocketRpc());
          peers.set(eva, { hub, factory, registry });
          return { endpoint, registry };
        },
        kill(eva: string) {
          // Cut on the broker's side with no close handshake, and no reconnect: as kill -9 of the peer's process.
          const peer = peers.get(eva)!;
          peer.factory.blocked = true;
          // The member's socket (its registry rides it), on whichever broker holds it.
          if (!brokers.map(({ broker }) => broker.terminate(eva)).some(Boolean)) throw new Error(`No socket of ${eva} on the brokers to cut.`);
        },
        stall(eva: string) {
          const socket = peers.get(eva)!.factory.socket;
          if (!socket?.pause) throw new Error('This socket cannot pause: not ws in Node?');
          socket.pause();
        },
        resume(eva: string) {
          peers.get(eva)!.factory.socket?.resume?.();
        },
        async close() {
          for (const peer of peers.values()) {
            await peer.registry.close().catch(() => undefined);
            await peer.hub.close();
          }
        },
      };
      // Pausing the socket freezes a member only where everything goes through it.
      if (!stall) {
        delete network.stall;
        delete network.resume;
      }
      return network;
    },
  };
}
