// Brokers of one cluster on 127.0.0.1, port 0, in this process: one MemoryRouter, one MemoryBus and one registry
// store shared, as packages/broker/test/cluster.test.ts sets them up. Clients reach each broker through a TCP relay,
// so that a test can kill a broker the way a crashed machine goes: see ClusterBroker.kill.
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { Broker, MemoryBus, MemoryRouter, type BrokerOptions, type ClaimResult, type RenewedClaim, type RouteHolder, type Router } from '@vnf/broker';
import type { Role } from '@vnf/protocol';
import { MemoryRegistryStore } from '@vnf/registry';

/** One broker's view of the shared router; once severed, its writes reach nobody (a dead process writes nothing). */
export class SeverableRouter implements Router {
  private severed = false;

  constructor(private readonly shared: Router) {}

  sever(): void {
    this.severed = true;
  }

  claim(role: Role, eva: string, holder: RouteHolder, proof: string | undefined, ttlMs?: number): Promise<ClaimResult> {
    return this.severed ? Promise.resolve({ outcome: 'in-use' }) : this.shared.claim(role, eva, holder, proof, ttlMs);
  }

  lookup(role: Role, eva: string): Promise<RouteHolder | undefined> {
    return this.shared.lookup(role, eva);
  }

  release(role: Role, eva: string, holderId: string): Promise<void> {
    return this.severed ? Promise.resolve() : this.shared.release(role, eva, holderId);
  }

  renew(claims: readonly RenewedClaim[], ttlMs: number): Promise<void> {
    return this.severed ? Promise.resolve() : this.shared.renew(claims, ttlMs);
  }
}

/** A TCP relay in front of a broker: `cut()` destroys every relayed connection (no close frame) and refuses new ones. */
class Relay {
  private constructor(
    private readonly server: Server,
    private readonly pairs: Set<[Socket, Socket]>,
    readonly port: number,
  ) {}

  static async start(brokerPort: number): Promise<Relay> {
    const pairs = new Set<[Socket, Socket]>();
    const server = createServer((client) => {
      const upstream = connect(brokerPort, '127.0.0.1');
      const pair: [Socket, Socket] = [client, upstream];
      pairs.add(pair);
      for (const socket of pair) socket.on('error', () => undefined);
      client.pipe(upstream);
      upstream.pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => {
        client.destroy();
        pairs.delete(pair);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return new Relay(server, pairs, (server.address() as AddressInfo).port);
  }

  async cut(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const pair of this.pairs) for (const socket of pair) socket.destroy();
    this.pairs.clear();
    await closed;
  }
}

export interface ClusterBroker {
  broker: Broker;
  /** The URL clients use: through the relay. */
  url: string;
  /**
   * Kills this broker as a crash would: its writes to the shared router stop (its claims stay there, as a dead
   * process leaves them until their TTL), every client's TCP connection is cut without a close frame (the client sees
   * 1006, an unclean drop, and reconnects with its session token), new connections are refused, then the broker
   * object is shut down (its close frames reach nobody).
   */
  kill(): Promise<void>;
  /** A clean shutdown (idempotent; after kill too). */
  close(): Promise<void>;
}

export async function startCluster(count: number, options: BrokerOptions = {}): Promise<ClusterBroker[]> {
  const router = new MemoryRouter();
  const shared = { bus: new MemoryBus(), registryStore: new MemoryRegistryStore(), ...options };
  const nodes: ClusterBroker[] = [];
  for (let i = 0; i < count; i++) nodes.push(await startNode(router, shared));
  return nodes;
}

async function startNode(router: MemoryRouter, options: BrokerOptions): Promise<ClusterBroker> {
  const view = new SeverableRouter(router);
  const broker = new Broker({ ...options, router: view });
  const address = await broker.listen({ port: 0, host: '127.0.0.1' });
  const relay = await Relay.start(address.port);
  let relayCut: Promise<void> | null = null;
  const cutRelay = (): Promise<void> => (relayCut ??= relay.cut());
  return {
    broker,
    url: `ws://127.0.0.1:${relay.port}${new URL(address.url).pathname}`,
    kill: async () => {
      view.sever();
      await cutRelay();
      await broker.close();
    },
    close: async () => {
      await broker.close();
      await cutRelay();
    },
  };
}
