// What brokers of a cluster and their clients see when Redis misbehaves: stopped (SIGSTOP) for 5 s, restarted
// empty, or slower than a sender 10x faster than its receiver. Never a silent loss: every message is delivered or
// its connection is reported lost, and nobody restarts a broker.
import { afterAll, afterEach, beforeAll, expect, it } from '@jest/globals';
import { until } from '@vnf/conformance';
import type { Endpoint } from '@vnf/core';
import { WebSocketFactory, WebSocketHub, type VnfSocket } from '@vnf/websocket-hub';
import { Redis } from 'ioredis';
import { FAST_RECONNECT, describeWithRedis, startRedis, startRedisCluster, type RedisServer, type RunningRedisCluster } from '../support/redisCluster';

let redis: RedisServer;
const cleanup: (() => Promise<unknown>)[] = [];

/** `ws`'s WebSocket in Node: it can stop reading, so TCP backs up toward the broker. */
type PausableSocket = VnfSocket & { pause(): void; resume(): void };

class PausableFactory extends WebSocketFactory {
  socket: PausableSocket | null = null;
  override create(url?: string): VnfSocket {
    this.socket = super.create(url) as PausableSocket;
    return this.socket;
  }
}

interface Pair {
  alice: Endpoint;
  bob: Endpoint;
  atBob: string[];
  lost: string[];
  bobFactory: PausableFactory;
}

async function pairAcross(cluster: RunningRedisCluster): Promise<Pair> {
  const aliceHub = new WebSocketHub(new WebSocketFactory(cluster.nodes[0].url, { reconnect: FAST_RECONNECT }));
  const bobFactory = new PausableFactory(cluster.nodes[1].url, { reconnect: FAST_RECONNECT });
  const bobHub = new WebSocketHub(bobFactory);
  cleanup.push(() => aliceHub.close(), () => bobHub.close());
  const alice = aliceHub.openEndpoint('alice');
  const bob = bobHub.openEndpoint('bob');
  await Promise.all([alice, bob].map((endpoint) => (endpoint as unknown as { firstAttempt: Promise<void> }).firstAttempt));
  const atBob: string[] = [];
  const lost: string[] = [];
  bob.onMessage = (event) => atBob.push(String(event.message));
  alice.onConnectionLost((eva) => lost.push(`alice lost ${eva}`));
  bob.onConnectionLost((eva) => lost.push(`bob lost ${eva}`));
  expect((await alice.openConnection('bob')).status).toBe('CONNECTED');
  return { alice, bob, atBob, lost, bobFactory };
}

/** Polls an asynchronous condition every 20 ms until it holds, or rejects after `timeoutMs`. */
async function eventually(what: string, timeoutMs: number, condition: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const numbers = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => String(from + i));

describeWithRedis('a cluster on Redis when Redis misbehaves', () => {
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterEach(async () => {
    for (const close of cleanup.splice(0).reverse()) await close().catch(() => undefined);
  });
  afterAll(() => redis?.stop());

  it('Redis stopped (SIGSTOP) for 5 s: what was sent meanwhile is delivered once Redis is back, in order, nothing reported lost', async () => {
    const cluster = await startRedisCluster(redis.url, 2);
    cleanup.push(() => cluster.close());
    const { alice, atBob, lost } = await pairAcross(cluster);
    for (const m of numbers(0, 100)) alice.send('bob', m);
    await until('the first 100 messages', 10_000, () => atBob.length === 100);
    redis.pause();
    try {
      for (const m of numbers(100, 300)) alice.send('bob', m);
      // The outage itself lasts 5 s (what is tested, not a wait for something): the brokers' Redis commands queue.
      await new Promise((resolve) => setTimeout(resolve, 5_000));
    } finally {
      redis.resume();
    }
    await until('the 200 messages sent during the outage', 20_000, () => atBob.length === 300);
    expect(atBob).toEqual(numbers(0, 300));
    expect(lost).toEqual([]);
  }, 60_000);

  it('Redis restarted empty: connections across brokers are reported lost (what was in flight may be gone); brokers re-register by themselves and new connections work', async () => {
    const own = await startRedis();
    cleanup.push(() => own.stop());
    const cluster = await startRedisCluster(own.url, 2);
    cleanup.push(() => cluster.close());
    const { alice, atBob, lost } = await pairAcross(cluster);
    for (const m of numbers(0, 50)) alice.send('bob', m);
    await until('the first 50 messages', 10_000, () => atBob.length === 50);
    await own.restartEmpty();
    await until('both sides to hear the connection is lost', 20_000, () => lost.length === 2);
    expect(lost.sort()).toEqual(['alice lost bob', 'bob lost alice']);
    // Nothing was delivered twice or out of order before the loss.
    expect(atBob).toEqual(numbers(0, atBob.length));
    // The brokers claimed their evas again on the new Redis: alice reaches bob on the other broker without anyone reconnecting.
    const probe = new Redis(own.url);
    cleanup.push(() => probe.quit());
    await eventually('bob to be claimed again on the new Redis', 20_000, async () => (await probe.exists(`${cluster.keyPrefix}route:endpoint:bob`)) === 1);
    expect((await alice.openConnection('bob')).status).toBe('CONNECTED');
    const before = atBob.length;
    for (const m of numbers(1000, 1050)) alice.send('bob', m);
    await until('50 messages after the restart', 10_000, () => atBob.length === before + 50);
    expect(atBob.slice(before)).toEqual(numbers(1000, 1050));
  }, 60_000);

  it('a sender 10x faster than its receiver on another broker is held back; Redis disconnects nobody and its streams stay short', async () => {
    const cluster = await startRedisCluster(redis.url, 2, { relayHighWaterMark: 256 * 1024, sendBufferLimit: 4 * 1024 * 1024, slowConsumerTimeoutMs: 60_000 });
    cleanup.push(() => cluster.close());
    const { alice, atBob, lost, bobFactory } = await pairAcross(cluster);
    const probe = new Redis(redis.url);
    cleanup.push(() => probe.quit());
    const connectionsReceived = async () => Number(/total_connections_received:(\d+)/.exec(await probe.info('stats'))![1]);
    const clusterClients = async () => new Set([...((await probe.client('LIST')) as string).matchAll(/id=(\d+) .*name=(vnf-\S*)/g)].map((m) => m[1]));
    const before = { received: await connectionsReceived(), clients: await clusterClients() };
    const heldBack = async () => Number(/^vnf_broker_held_back_senders (\d+)/m.exec(await cluster.nodes[0].broker.metrics())?.[1] ?? 0);

    // bob stops reading; alice writes 1 KiB messages whenever her endpoint is below its high-water mark — far
    // faster than bob (who reads nothing) — until her broker stops reading her.
    bobFactory.socket!.pause();
    const chunk = 'x'.repeat(1024);
    let sent = 0;
    const pump = setInterval(() => {
      while (alice.bufferedAmount('bob') < 1024 * 1024) {
        alice.send('bob', chunk);
        sent++;
      }
    }, 1);
    cleanup.push(async () => clearInterval(pump));
    await eventually('alice to be held back by her broker (bob, on the other broker, is above its high-water mark)', 30_000, async () => (await heldBack()) === 1);
    // What is between them is bounded: bob's broker holds at most its sendBufferLimit, Redis a few unread entries.
    const streams = await probe.keys(`${cluster.keyPrefix}bus:*`);
    const lengths = await Promise.all(streams.map((key) => probe.xlen(key)));
    expect(Math.max(0, ...lengths)).toBeLessThan(64);
    clearInterval(pump);
    const total = sent;

    // bob reads again: everything arrives, in order, once; alice is read again.
    bobFactory.socket!.resume();
    await until(`bob to receive all ${total} messages`, 60_000, () => atBob.length === total, () => `${atBob.length} of ${total}`);
    expect(atBob.every((m) => m === chunk)).toBe(true);
    expect(lost).toEqual([]);
    await eventually('alice to be read again', 10_000, async () => (await heldBack()) === 0);
    // Nobody was disconnected by Redis: no client reconnected, and every connection of the cluster is still there.
    expect(await connectionsReceived()).toBe(before.received);
    const after = await clusterClients();
    expect([...before.clients].filter((id) => !after.has(id))).toEqual([]);
  }, 120_000);
});
