// Brokers of one cluster on a real Redis: each `Broker` with the `redis` option (its own connections, as separate
// processes would have), on 127.0.0.1 port 0. One redis-server per test file (startRedis); each cluster its own key
// prefix, so clusters of one file never see each other.
import type { Endpoint, Hub } from '@vnf/core';
import { WebSocketFactory, WebSocketHub } from '@vnf/websocket-hub';
import { Broker, type BrokerOptions } from '../../src';

export { describeWithRedis, startRedis, type RedisServer } from '../../../broker-redis/test/support/redisServer';

let clusters = 0;

export interface RedisClusterNode {
  broker: Broker;
  url: string;
}

export interface RunningRedisCluster {
  nodes: RedisClusterNode[];
  keyPrefix: string;
  close(): Promise<void>;
}

export async function startRedisCluster(redisUrl: string, count: number, options: BrokerOptions = {}): Promise<RunningRedisCluster> {
  const keyPrefix = `cluster${clusters++}-${process.pid}:`;
  const nodes: RedisClusterNode[] = [];
  for (let i = 0; i < count; i++) {
    const broker = new Broker({ ...options, redis: { url: redisUrl, keyPrefix } });
    const address = await broker.listen({ port: 0, host: '127.0.0.1' });
    nodes.push({ broker, url: address.url });
  }
  return {
    nodes,
    keyPrefix,
    close: async () => {
      await Promise.all(nodes.map(({ broker }) => broker.close()));
    },
  };
}

/** Fast reconnects keep tests short. */
export const FAST_RECONNECT = { initialDelayMs: 20, maxDelayMs: 200 };

/**
 * A hub whose endpoints go to the brokers in turn: the first eva a test opens is on broker one, the second on
 * broker two, and so on — so every pair a suite connects spans two brokers.
 */
export class SpreadHub implements Hub {
  private readonly hubs: WebSocketHub[];
  /** The hub each eva went to: it goes there again, so a second open of an open eva fails there as it should. */
  private readonly placed = new Map<string, WebSocketHub>();

  constructor(urls: readonly string[]) {
    this.hubs = urls.map((url) => new WebSocketHub(new WebSocketFactory(url, { reconnect: FAST_RECONNECT })));
    this.openEndpoint = this.openEndpoint.bind(this);
    this.close = this.close.bind(this);
  }

  get maxPayloadSize(): number {
    return this.hubs[0].maxPayloadSize;
  }

  get highWaterMark(): number {
    return this.hubs[0].highWaterMark;
  }

  get lowWaterMark(): number {
    return this.hubs[0].lowWaterMark;
  }

  openEndpoint(eva: string): Endpoint {
    let hub = this.placed.get(eva);
    if (!hub) {
      hub = this.hubs[this.placed.size % this.hubs.length];
      this.placed.set(eva, hub);
    }
    return hub.openEndpoint(eva);
  }

  async close(): Promise<void> {
    await Promise.all(this.hubs.map((hub) => hub.close()));
  }
}
