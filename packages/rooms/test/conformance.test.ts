import { roomConformance } from '@vnf/conformance';
import type { Hub, MultiplexingEndpoint, RegistryClient } from '@vnf/core';
import { InBrowserHub } from '@vnf/in-browser-hub';
import { MarshallerHub } from '@vnf/marshaller-hub';
import { MultiplexHub } from '@vnf/multiplex-hub';
import { InBrowserRegistry } from '@vnf/registry';
import { Room } from '@vnf/rooms';
import { Identity, SecureHub } from '@vnf/secure-hub';
import { UnreliableHub } from '@vnf/unreliable-hub';

/** Members in one page: one hub, one in-page registry; a killed member's endpoint is destroyed and its registry client dropped. */
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

const createRoom = (endpoint: MultiplexingEndpoint, options: { registry: RegistryClient; name: string; info?: unknown }) => new Room(endpoint, options);

roomConformance('Room over MultiplexHub(InBrowserHub)', {
  createNetwork: () => inPage(new MultiplexHub(new InBrowserHub())),
  createRoom,
});

roomConformance('Room over MultiplexHub(MarshallerHub(InBrowserHub))', {
  createNetwork: () => inPage(new MultiplexHub(new MarshallerHub(new InBrowserHub()))),
  createRoom,
});

// Encrypted pairwise: every member's connections run through a SecureHub (each broadcast is one sealed record per
// member, not one fan-out), as the chat example's rooms do.
roomConformance('Room over MultiplexHub(MarshallerHub(SecureHub(InBrowserHub)))', {
  createNetwork: () => inPage(new MultiplexHub(new MarshallerHub(new SecureHub(new InBrowserHub(), { identity: Identity.generate() })))),
  createRoom,
});

// Every fifth message duplicated beneath the room (multicast copies too): the room delivers each broadcast once.
const SEED = Number(process.env.VNF_CHAOS_SEED ?? 20261201);
roomConformance(`Room over MultiplexHub(UnreliableHub(InBrowserHub, duplicate 20 %)) (seed ${SEED})`, {
  createNetwork: () => inPage(new MultiplexHub(new UnreliableHub(new InBrowserHub(), { seed: SEED, duplicate: 0.2 }))),
  createRoom,
  sendMayDuplicate: true,
});
