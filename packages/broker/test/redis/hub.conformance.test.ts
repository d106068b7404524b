// The hub suite for WebSocketHub with the two endpoints of every pair on different brokers of a three-broker
// cluster on a real Redis: everything a pair does (open, messages, backpressure, drops) crosses the bus.
import { afterAll, beforeAll } from '@jest/globals';
import { hubConformance } from '@vnf/conformance';
import { SpreadHub, describeWithRedis, startRedis, startRedisCluster, type RedisServer, type RunningRedisCluster } from '../support/redisCluster';

let redis: RedisServer;
let cluster: RunningRedisCluster;

describeWithRedis('WebSocketHub across three brokers on Redis', () => {
  beforeAll(async () => {
    redis = await startRedis();
    cluster = await startRedisCluster(redis.url, 3);
  });
  afterAll(async () => {
    await cluster?.close();
    await redis?.stop();
  });

  hubConformance('WebSocketHub, each pair on two brokers of a Redis cluster', {
    createHub: () => new SpreadHub(cluster.nodes.map((node) => node.url)),
    payloads: 'wire',
    timeoutMs: 10_000,
    cutTransport: (endpoint) => {
      for (const { broker } of cluster.nodes) broker.terminate(endpoint.eva);
    },
  });
});
