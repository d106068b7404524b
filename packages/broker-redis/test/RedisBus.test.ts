import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { BusMessage } from '@vnf/protocol';
import { Redis } from 'ioredis';
import { RedisBus } from '../src';
import { LEASE } from '../src/busScripts';
import { describeWithRedis, startRedis, type RedisServer } from './support/redisServer';

let redis: RedisServer;
let prefixes = 0;

/** Messages a member received, and a way to wait for a condition on them. */
function inbox() {
  const messages: BusMessage[] = [];
  const waiters: (() => void)[] = [];
  return {
    messages,
    receive(message: BusMessage) {
      messages.push(message);
      for (const wake of waiters.splice(0)) wake();
    },
    async until(done: (messages: BusMessage[]) => boolean, what: string, timeoutMs = 10_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (!done(messages)) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`timed out waiting for ${what}; got ${messages.length} messages`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(left, 200));
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
  };
}

const record = (n: number, size = 8): BusMessage => ({
  t: 'record',
  from: 'alice',
  fromSocket: 'a-1',
  fromNode: 'a',
  toSocket: 'b-1',
  kind: 2,
  payload: new Uint8Array(size).fill(n % 256),
});

describeWithRedis('RedisBus', () => {
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis?.stop());

  it('carries records and control messages between brokers on separate connections, in order, binary intact', async () => {
    const keyPrefix = `bus${prefixes++}:`;
    const one = new RedisBus({ redis: redis.url, keyPrefix });
    const two = new RedisBus({ redis: redis.url, keyPrefix });
    const atB = inbox();
    const a = one.join('a', () => {});
    two.join('b', atB.receive);
    try {
      a.send('b', { t: 'open', id: 1, from: 'alice', fromSocket: 'a-1', fromNode: 'a', to: 'bob', toSocket: 'b-1' });
      // Several ticks, one of them past an entry's size, with a fan-out delivery among them.
      for (let tick = 0; tick < 5; tick++) {
        for (let i = 0; i < 400; i++) a.send('b', record(tick * 400 + i, tick === 2 ? 1024 : 8));
        await new Promise((resolve) => setImmediate(resolve));
      }
      a.send('b', { ...record(7), fanOut: true } as BusMessage);
      a.send('b', { t: 'lost', from: 'alice', fromSocket: 'a-1', toSocket: 'b-1' });
      await atB.until((m) => m.some((x) => x.t === 'lost'), 'the lost after 2001 records');
      expect(atB.messages[0]).toEqual({ t: 'open', id: 1, from: 'alice', fromSocket: 'a-1', fromNode: 'a', to: 'bob', toSocket: 'b-1' });
      const records = atB.messages.filter((m): m is Extract<BusMessage, { t: 'record' }> => m.t === 'record');
      expect(records).toHaveLength(2001);
      records.slice(0, 2000).forEach((m, n) => {
        expect(m.payload[0]).toBe(n % 256);
        expect(m.payload.byteLength).toBe(n >= 800 && n < 1200 ? 1024 : 8);
      });
      expect(records[0]).toMatchObject({ from: 'alice', fromSocket: 'a-1', fromNode: 'a', toSocket: 'b-1', kind: 2 });
      expect(records[0].fanOut).toBeUndefined();
      expect(records[2000].fanOut).toBe(true);
      expect(atB.messages.at(-1)).toEqual({ t: 'lost', from: 'alice', fromSocket: 'a-1', toSocket: 'b-1' });
      // What was read is trimmed: the stream does not grow with the traffic.
      const client = new Redis(redis.url);
      const deadline = Date.now() + 5000;
      while ((await client.xlen(`${keyPrefix}bus:b`)) > 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(await client.xlen(`${keyPrefix}bus:b`)).toBeLessThanOrEqual(1);
      await client.quit();
    } finally {
      await one.close();
      await two.close();
    }
  });

  it('tells the others once that a broker left, and exactly once that one died, however many survivors reap', async () => {
    const keyPrefix = `bus${prefixes++}:`;
    // The live brokers' leases outlast any stall of a loaded CI machine (with 60 ms ones, a survivor that missed a
    // renewal was reaped with the ghost, and never heard of it); the ghosts' leases are short and never renewed.
    // Each broker reaps after every renewal, a third of its lease: within a second here.
    const buses = [0, 1, 2].map(() => new RedisBus({ redis: redis.url, keyPrefix, nodeTtlMs: 3_000 }));
    const boxes = [inbox(), inbox(), inbox()];
    const members = buses.map((bus, i) => bus.join(`n${i}`, boxes[i].receive));
    const client = new Redis(redis.url);
    try {
      // A broker that died: a lease that is never renewed.
      await client.eval(LEASE, 1, `${keyPrefix}nodes`, `${keyPrefix}bus:`, 'ghost', '60');
      const downs = (box: ReturnType<typeof inbox>, node: string) => box.messages.filter((m) => m.t === 'down' && m.node === node).length;
      await boxes[0].until(() => boxes.every((box) => downs(box, 'ghost') >= 1), 'every survivor to hear the ghost is down');
      members[2].leave();
      await boxes[0].until(() => downs(boxes[0], 'n2') >= 1 && downs(boxes[1], 'n2') >= 1, 'the others to hear n2 left');
      // Reaping rounds later (a second ghost is reaped after the first), still once each.
      await client.eval(LEASE, 1, `${keyPrefix}nodes`, `${keyPrefix}bus:`, 'ghost2', '60');
      await boxes[0].until(() => downs(boxes[0], 'ghost2') >= 1 && downs(boxes[1], 'ghost2') >= 1, 'the survivors to hear ghost2 is down');
      expect(boxes.map((box) => downs(box, 'ghost'))).toEqual([1, 1, 1]);
      expect([downs(boxes[0], 'n2'), downs(boxes[1], 'n2')]).toEqual([1, 1]);
      expect(await client.zrange(`${keyPrefix}nodes`, 0, -1)).toEqual(expect.arrayContaining(['n0', 'n1']));
      expect(await client.exists(`${keyPrefix}bus:ghost`, `${keyPrefix}bus:n2`)).toBe(0);
    } finally {
      await client.quit();
      for (const bus of buses) await bus.close();
    }
  });

  it('a broker that stalled past its lease is down for both sides, once, whoever notices first', async () => {
    const keyPrefix = `bus${prefixes++}:`;
    // Leases no event-loop stall of a loaded machine outlasts: b's runs out only because the test ends it.
    const buses = [0, 1].map(() => new RedisBus({ redis: redis.url, keyPrefix, nodeTtlMs: 3_000 }));
    const [atA, atB] = [inbox(), inbox()];
    const a = buses[0].join('a', atA.receive);
    const b = buses[1].join('b', atB.receive);
    const client = new Redis(redis.url);
    try {
      a.send('b', record(1));
      b.send('a', { t: 'hold', socket: 'a-1', by: 'b-1' });
      await atB.until((m) => m.length === 1, 'the record at b');
      await atA.until((m) => m.length === 1, 'the hold at a');
      // b's lease ran out as if its process had stalled: whether b renews first or a reaps first, a hears b is
      // down, and b calls a down (it cannot vouch for what was in flight).
      await client.zadd(`${keyPrefix}nodes`, 0, 'b');
      await atA.until((m) => m.some((x) => x.t === 'down' && x.node === 'b'), 'a to hear b is down');
      await atB.until((m) => m.some((x) => x.t === 'down' && x.node === 'a'), 'b to call a down');
      // b is live again: a new lease, a second message reaches it.
      a.send('b', record(2));
      await atB.until((m) => m.filter((x) => x.t === 'record').length === 2, 'a record after b came back');
      expect(atA.messages.filter((x) => x.t === 'down' && x.node === 'b')).toHaveLength(1);
    } finally {
      await client.quit();
      for (const bus of buses) await bus.close();
    }
  });

  it('reports every broker it talked to as down when Redis restarts empty (what was in flight may be gone)', async () => {
    const own = await startRedis();
    const keyPrefix = `bus${prefixes++}:`;
    const one = new RedisBus({ redis: own.url, keyPrefix });
    const two = new RedisBus({ redis: own.url, keyPrefix });
    const atA = inbox();
    const atB = inbox();
    const a = one.join('a', atA.receive);
    const b = two.join('b', atB.receive);
    try {
      a.send('b', record(1));
      await atB.until((m) => m.length === 1, 'the first record');
      b.send('a', { t: 'hold', socket: 'a-1', by: 'b-1' });
      await atA.until((m) => m.length === 1, 'the hold');
      await own.restartEmpty();
      await atA.until((m) => m.some((x) => x.t === 'down' && x.node === 'b'), 'a to call b down');
      await atB.until((m) => m.some((x) => x.t === 'down' && x.node === 'a'), 'b to call a down');
      // And the bus works again on the new Redis.
      a.send('b', record(2));
      await atB.until((m) => m.filter((x) => x.t === 'record').length === 2, 'a record after the restart');
    } finally {
      await one.close();
      await two.close();
      await own.stop();
    }
  });

  it('closes even when Redis is gone and its reader is between reconnections', async () => {
    const own = await startRedis();
    const bus = new RedisBus({ redis: own.url, keyPrefix: `bus${prefixes++}:` });
    const atA = inbox();
    const a = bus.join('a', atA.receive);
    a.send('a', record(1));
    await atA.until((m) => m.length === 1, 'a message to itself');
    await own.stop();
    // Resolves (the test's own timeout is the bound): nothing waits for a Redis that is not coming back.
    await bus.close();
  });

  it('refuses a second member with one node id, and unknown options', () => {
    const bus = new RedisBus({ redis: redis.url, keyPrefix: `bus${prefixes++}:` });
    bus.join('x', () => {});
    expect(() => bus.join('x', () => {})).toThrow(/already joined/);
    expect(() => new RedisBus({ redis: redis.url, nodeTTL: 5 } as never)).toThrow(/nodeTTL/);
    expect(() => new RedisBus({ redis: redis.url, nodeTtlMs: 1 })).toThrow(/nodeTtlMs/);
    return bus.close();
  });
});
