// The room conformance suite with the members of every room on different brokers of a three-broker cluster on a
// real Redis: presence, state and broadcasts all cross brokers (the registry on Redis, the records on its streams).
import { afterAll, beforeAll } from '@jest/globals';
import { Broker } from '@vnf/broker';
import { roomConformance } from '@vnf/conformance';
import type { MultiplexingEndpoint, RegistryClient } from '@vnf/core';
import { Room } from '@vnf/rooms';
import { describeWithRedis, startRedis, type RedisServer } from '../../broker-redis/test/support/redisServer';
import { brokerNetworks, type BrokerNetworks } from './support/brokerNetwork';

/** The brokers' grace for a cut socket, ms: a killed member leaves once it ends. */
const GRACE_MS = 1000;

let redis: RedisServer;
let brokers: { broker: Broker; url: string }[] = [];
let networks: BrokerNetworks;

describeWithRedis('rooms across a cluster on Redis', () => {
  beforeAll(async () => {
    redis = await startRedis();
    for (let i = 0; i < 3; i++) {
      const broker = new Broker({ evaGraceMs: GRACE_MS, redis: { url: redis.url, keyPrefix: 'rooms:' } });
      const { url } = await broker.listen({ port: 0, host: '127.0.0.1' });
      brokers.push({ broker, url });
    }
    networks = brokerNetworks(brokers);
  });
  afterAll(async () => {
    await Promise.all(brokers.map(({ broker }) => broker.close()));
    brokers = [];
    await redis?.stop();
  });

  roomConformance('Room over MultiplexHub(WebSocketHub), members on three brokers of a Redis cluster', {
    createNetwork: () => networks.network((webSocketHub) => webSocketHub),
    createRoom: (endpoint: MultiplexingEndpoint, options: { registry: RegistryClient; name: string; info?: unknown }) => new Room(endpoint, options),
    timeoutMs: 10_000,
    leaveBoundMs: GRACE_MS + 2_000,
  });
});
