import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { routerConformance } from '@vnf/conformance';
import { VnfError } from '@vnf/core';
import { Redis } from 'ioredis';
import { RedisRouter } from '../src';
import { describeWithRedis, startRedis, type RedisServer } from './support/redisServer';

let redis: RedisServer;
let prefixes = 0;

describeWithRedis('RedisRouter', () => {
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis?.stop());

  // Two routers on one prefix are two brokers of one cluster: each its own connection.
  routerConformance('RedisRouter', {
    async create() {
      const keyPrefix = `router${prefixes++}:`;
      return [new RedisRouter({ redis: redis.url, keyPrefix }), new RedisRouter({ redis: redis.url, keyPrefix })];
    },
    async destroy(made) {
      for (const router of Array.isArray(made) ? made : [made]) await (router as RedisRouter).close();
    },
  });

  it('refuses options it does not know, and a missing or malformed redis, saying what to give', () => {
    expect(() => new RedisRouter({} as never)).toThrow(/needs redis: a redis:\/\/ URL/);
    expect(() => new RedisRouter({ redis: 'http://127.0.0.1:6379' })).toThrow(VnfError);
    expect(() => new RedisRouter({ redis: redis.url, prefix: 'x' } as never)).toThrow(/prefix/);
  });

  it('leaves a client it was given open, and makes a claim again after Redis restarted empty', async () => {
    const client = new Redis(redis.url);
    const router = new RedisRouter({ redis: client, keyPrefix: 'restart:' });
    try {
      expect((await router.claim('endpoint', 'alice', { id: 'n1-1', node: 'n1', session: 's1' }, undefined, 60_000)).outcome).toBe('claimed');
      await router.claim('endpoint', 'gone', { id: 'n1-2', node: 'n1', session: 's2' }, undefined, 60_000);
      await router.release('endpoint', 'gone', 'n1-2');
      await redis.restartEmpty();
      const deadline = Date.now() + 10_000;
      while ((await router.lookup('endpoint', 'alice').catch(() => undefined)) === undefined) {
        if (Date.now() > deadline) throw new Error('the claim was not made again within 10 s of the restart');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(await router.lookup('endpoint', 'alice')).toEqual({ id: 'n1-1', node: 'n1', session: 's1' });
      expect(await router.lookup('endpoint', 'gone')).toBeUndefined();
      expect(await client.pttl('restart:route:endpoint:alice')).toBeGreaterThan(0);
    } finally {
      await router.close();
      expect(client.status).toBe('ready');
      await client.quit();
    }
  });

  it('rejects with UNAVAILABLE, naming Redis, once it cannot reach Redis any more', async () => {
    const gone = await startRedis();
    const router = new RedisRouter({ redis: gone.url });
    await router.ping();
    await gone.stop();
    // Commands wait through an outage (a restart, a SIGSTOP); a closed router's connection fails them at once.
    await router.close();
    await expect(router.lookup('endpoint', 'x')).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringMatching(/Redis did not answer a lookup/) });
  });
});
