// Three broker processes on one Redis, 100 endpoint pairs across them over ReliableHub(WebSocketHub), and one broker
// killed with kill -9 mid-stream: its endpoints fail over to the others keeping their evas, every pair's 100
// messages arrive exactly once and in order, and the registry entries of owners that never come back are gone
// after the lease, each told once to a watcher on another broker. (`npm run soak -- cluster`: 1 000 pairs.)
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { until } from '@vnf/conformance';
import type { Endpoint, RegistryChange } from '@vnf/core';
import { WebSocketRegistryClient } from '@vnf/registry';
import { ReliableHub } from '@vnf/reliable-hub';
import { WebSocketFactory, WebSocketHub, type WebSocketEndpoint } from '@vnf/websocket-hub';
import { startBrokerProcess, type BrokerProcess } from '../support/brokerProcess';
import { FAST_RECONNECT, describeWithRedis, startRedis, type RedisServer } from '../support/redisCluster';

const PAIRS = Number(process.env.VNF_CLUSTER_PAIRS ?? 100);
const MESSAGES = Number(process.env.VNF_CLUSTER_MESSAGES ?? 100);
/** Owners on the killed broker that never reconnect: their entries must go once their lease ends. */
const STRANDED = 5;
const CLAIM_TTL_MS = 3_000;
/** Waits grow with the soak's size (1 000 pairs: ten times the CI run's). */
const SCALE = Math.max(1, (PAIRS * MESSAGES) / 10_000);
/** Set by `npm run soak -- cluster`: the figures of the run go to stderr. */
const REPORT = process.env.VNF_CLUSTER_REPORT === '1';
const NODE_TTL_MS = 1_500;

let redis: RedisServer;
let brokers: BrokerProcess[] = [];
const closers: (() => Promise<unknown>)[] = [];

describeWithRedis('a broker of three killed with kill -9', () => {
  beforeAll(async () => {
    redis = await startRedis();
    // Every client of the test shares one address: the per-client budgets are lifted (0), as behind a trusted proxy.
    const unlimited = ['--max-evas-per-client', '--max-pending-per-client', '--max-control-per-second-per-client', '--max-connections-per-address'].flatMap((flag) => [flag, '0']);
    const args = ['--redis', redis.url, '--redis-key-prefix', 'killed:', '--claim-ttl-ms', String(CLAIM_TTL_MS), '--node-ttl-ms', String(NODE_TTL_MS), ...unlimited];
    brokers = await Promise.all([0, 1, 2].map(() => startBrokerProcess(args)));
  });
  afterAll(async () => {
    await Promise.all(closers.splice(0).map((close) => close().catch(() => undefined)));
    await Promise.all(brokers.map((broker) => broker.stop()));
    await redis?.stop();
  }, 30_000 * SCALE);

  it(`${PAIRS} pairs, ${PAIRS * MESSAGES} messages: nothing lost, duplicated or reordered; stranded entries go, told once`, async () => {
    const urls = brokers.map((broker) => broker.url);
    /** A factory that starts on broker `i` and fails over to the next ones in turn. */
    const factoryOn = (i: number, only = false) =>
      new WebSocketFactory(only ? [urls[i]] : [...urls.slice(i), ...urls.slice(0, i)], { reconnect: FAST_RECONNECT, urlStart: 'first' });
    const registered: WebSocketEndpoint[] = [];
    const hubOn = (i: number) => {
      const inner = new WebSocketHub(factoryOn(i));
      const openInner = inner.openEndpoint.bind(inner);
      inner.openEndpoint = (eva: string) => {
        const endpoint = openInner(eva);
        registered.push(endpoint);
        return endpoint;
      };
      const hub = new ReliableHub(inner, { heartbeatIntervalMs: 500, heartbeatTimeoutMs: 5_000, restoreTimeoutMs: 20_000 });
      closers.push(() => hub.close());
      return hub;
    };

    // The watcher, on broker two (which lives), and the stranded owners, on broker zero (which dies) with no other URL.
    const watcherHub = new WebSocketHub(factoryOn(2));
    closers.push(() => watcherHub.close());
    const watcher = new WebSocketRegistryClient(watcherHub.openEndpoint('watcher').getWebSocketRpc());
    closers.push(() => watcher.close());
    const removed = new Map<string, number>();
    await watcher.watch('stranded', (change: RegistryChange) => {
      if (change.type === 'removed') removed.set(change.entry.name, (removed.get(change.entry.name) ?? 0) + 1);
    });
    for (let i = 0; i < STRANDED; i++) {
      const hub = new WebSocketHub(factoryOn(0, true));
      closers.push(() => hub.close());
      const owner = new WebSocketRegistryClient(hub.openEndpoint(`stranded-${i}`).getWebSocketRpc());
      closers.push(() => owner.close());
      await owner.createEntry({ collection: 'stranded', name: `entry-${i}` }, { i });
    }
    expect((await watcher.listEntries('stranded')).length).toBe(STRANDED);

    // Pair p: the sender on broker p % 3, the receiver on the next broker.
    const received: string[][] = [];
    const senders: Endpoint[] = [];
    const lost: string[] = [];
    for (let p = 0; p < PAIRS; p++) {
      const sender = hubOn(p % 3).openEndpoint(`s${p}`);
      const receiver = hubOn((p + 1) % 3).openEndpoint(`r${p}`);
      const got: string[] = [];
      received.push(got);
      receiver.onMessage = (event) => got.push(String(event.message));
      sender.onConnectionLost((eva) => lost.push(`s${p}-${eva}`));
      senders.push(sender);
    }
    // A receiver registers with its broker asynchronously: the opens wait for every registration.
    await Promise.all(registered.map((endpoint) => endpoint.firstAttempt));
    expect(registered.filter((endpoint) => !endpoint.isOnline).map((endpoint) => endpoint.eva)).toEqual([]);
    await Promise.all(senders.map(async (sender, p) => expect((await sender.openConnection(`r${p}`)).status).toBe('CONNECTED')));

    const half = Math.floor(MESSAGES / 2);
    senders.forEach((sender, p) => {
      for (let m = 0; m < half; m++) sender.send(`r${p}`, String(m));
    });
    await until('the first half to start arriving', 20_000, () => received.every((got) => got.length > 0));
    const killedAt = Date.now();
    await brokers[0].kill();
    senders.forEach((sender, p) => {
      for (let m = half; m < MESSAGES; m++) sender.send(`r${p}`, String(m));
    });

    const expected = Array.from({ length: MESSAGES }, (_, m) => String(m));
    await until(`every receiver to get its ${MESSAGES} messages`, 60_000 * SCALE, () => received.every((got) => got.length >= MESSAGES), () =>
      `short: ${received.map((got, p) => (got.length < MESSAGES ? `r${p}:${got.length}` : '')).filter(Boolean).slice(0, 10).join(' ')}`,
    );
    const deliveredAt = Date.now();
    received.forEach((got, p) => expect({ pair: p, got }).toEqual({ pair: p, got: expected }));
    expect(lost).toEqual([]);

    // The stranded owners' entries go once their lease (claimTtlMs) ran out, each told once.
    await until('the stranded entries to be removed', 30_000, () => removed.size === STRANDED);
    expect([...removed.values()]).toEqual(Array(STRANDED).fill(1));
    expect(await watcher.listEntries('stranded')).toEqual([]);
    if (REPORT) {
      process.stderr.write(
        `[soak cluster] ${PAIRS} pairs, ${PAIRS * MESSAGES} messages over 3 broker processes, one killed: all delivered in order, ` +
          `${deliveredAt - killedAt} ms from kill -9 to the last message; stranded entries removed ${Date.now() - killedAt} ms after the kill (claimTtlMs ${CLAIM_TTL_MS})\n`,
      );
    }
  }, 120_000 * SCALE);
});
