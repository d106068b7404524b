import { describe, expect, it } from '@jest/globals';

/** Who holds an eva, as @vnf/broker's Router sees it (kept structural: this package does not depend on the broker). */
export interface RouterHolder {
  id: string;
  node: string;
  session: string;
}

export type RouterClaim = { outcome: 'claimed'; session: string } | { outcome: 'replaced'; session: string; previous: RouterHolder } | { outcome: 'in-use' };

/** The Router contract of @vnf/broker (packages/broker/src/Router.ts). */
export interface RouterUnderTest {
  claim(role: 'endpoint' | 'rpc', eva: string, holder: RouterHolder, proof: string | undefined, ttlMs?: number): Promise<RouterClaim>;
  lookup(role: 'endpoint' | 'rpc', eva: string): Promise<RouterHolder | undefined>;
  release(role: 'endpoint' | 'rpc', eva: string, holderId: string): Promise<void>;
  renew(claims: readonly { role: 'endpoint' | 'rpc'; eva: string; id: string }[], ttlMs: number): Promise<void>;
}

export interface RouterConformanceSetup {
  /** A fresh, empty router; for a shared (cluster) router, two handles on the same storage as `[one, two]`. */
  create(): Promise<RouterUnderTest | [RouterUnderTest, RouterUnderTest]>;
  /** Frees what `create` made (connections, servers). */
  destroy?(router: RouterUnderTest | [RouterUnderTest, RouterUnderTest]): Promise<void>;
}

const holder = (id: string, node = 'n1', session = `s-${id}`): RouterHolder => ({ id, node, session });

/**
 * Registers jest tests that check what every Router promises (docs/design.md, Routing and scale): one holder per
 * eva and role, session-token takeover, one session across roles, release only by the holder, and — with two
 * handles on one storage — that two brokers see one routing table.
 */
export function routerConformance(name: string, setup: RouterConformanceSetup): void {
  describe(`${name} keeps the Router contract`, () => {
    async function withRouters(body: (one: RouterUnderTest, two: RouterUnderTest) => Promise<void>): Promise<void> {
      const made = await setup.create();
      const [one, two] = Array.isArray(made) ? made : [made, made];
      try {
        await body(one, two);
      } finally {
        await setup.destroy?.(made);
      }
    }

    it('gives a free eva to its first claimant, with its node and the session it brought', () =>
      withRouters(async (router) => {
        expect(await router.lookup('endpoint', 'alice')).toBeUndefined();
        expect(await router.claim('endpoint', 'alice', holder('a1'), undefined)).toEqual({ outcome: 'claimed', session: 's-a1' });
        expect(await router.lookup('endpoint', 'alice')).toEqual(holder('a1'));
      }));

    it('refuses a claim of a held eva without the session token, or with a wrong one', () =>
      withRouters(async (router) => {
        await router.claim('endpoint', 'alice', holder('a1'), undefined);
        expect(await router.claim('endpoint', 'alice', holder('a2'), undefined)).toEqual({ outcome: 'in-use' });
        expect(await router.claim('endpoint', 'alice', holder('a2'), 's-a1x')).toEqual({ outcome: 'in-use' });
        expect(await router.claim('endpoint', 'alice', holder('a2'), 's-a')).toEqual({ outcome: 'in-use' });
        expect((await router.lookup('endpoint', 'alice'))?.id).toBe('a1');
      }));

    it('lets a reconnect with the session token take over, keeping the session, and names the previous holder', () =>
      withRouters(async (router) => {
        await router.claim('endpoint', 'alice', holder('a1'), undefined);
        expect(await router.claim('endpoint', 'alice', holder('a2', 'n2', 'fresh'), 's-a1')).toEqual({ outcome: 'replaced', session: 's-a1', previous: holder('a1') });
        expect(await router.lookup('endpoint', 'alice')).toEqual({ id: 'a2', node: 'n2', session: 's-a1' });
      }));

    it('frees an eva only for its holder: a taken-over socket releasing frees nothing', () =>
      withRouters(async (router) => {
        await router.claim('endpoint', 'alice', holder('a1'), undefined);
        await router.claim('endpoint', 'alice', holder('a2'), 's-a1');
        await router.release('endpoint', 'alice', 'a1');
        expect((await router.lookup('endpoint', 'alice'))?.id).toBe('a2');
        await router.release('endpoint', 'alice', 'a2');
        expect(await router.lookup('endpoint', 'alice')).toBeUndefined();
        expect((await router.claim('endpoint', 'alice', holder('a3'), undefined)).outcome).toBe('claimed');
      }));

    it('one session speaks for an eva across roles, in either arrival order', () =>
      withRouters(async (router) => {
        await router.claim('endpoint', 'bob', holder('b1'), undefined);
        expect(await router.claim('rpc', 'bob', holder('r1'), undefined)).toEqual({ outcome: 'in-use' });
        expect(await router.claim('rpc', 'bob', holder('r1', 'n1', 'other'), 's-b1')).toEqual({ outcome: 'claimed', session: 's-b1' });
        await router.claim('rpc', 'carol', holder('r2'), undefined);
        expect(await router.claim('endpoint', 'carol', holder('c1'), undefined)).toEqual({ outcome: 'in-use' });
        expect((await router.claim('endpoint', 'carol', holder('c1'), 's-r2')).outcome).toBe('claimed');
        // Roles are released separately.
        await router.release('rpc', 'bob', 'r1');
        expect((await router.lookup('endpoint', 'bob'))?.id).toBe('b1');
        expect(await router.lookup('rpc', 'bob')).toBeUndefined();
      }));

    it('answers lookups with a copy: changing it changes nothing', () =>
      withRouters(async (router) => {
        await router.claim('endpoint', 'alice', holder('a1'), undefined);
        const seen = await router.lookup('endpoint', 'alice');
        if (seen) seen.id = 'forged';
        expect((await router.lookup('endpoint', 'alice'))?.id).toBe('a1');
      }));

    it('lets a claim given a TTL run out unless renewed: its eva is then free, as if released (the broker died)', () =>
      withRouters(async (one, two) => {
        await one.claim('endpoint', 'kept', holder('k1', 'n1'), undefined, 40);
        await one.renew([{ role: 'endpoint', eva: 'kept', id: 'k1' }], 60_000);
        // A renewal names its holder: one naming another socket extends nothing.
        await one.renew([{ role: 'endpoint', eva: 'kept', id: 'someone-else' }], 1);
        await one.claim('endpoint', 'lapsed', holder('l1', 'n1'), undefined, 40);
        // Polls the router until the unrenewed claim is gone (a condition with a deadline, never a fixed sleep).
        const deadline = Date.now() + 5000;
        while ((await two.lookup('endpoint', 'lapsed')) !== undefined) {
          if (Date.now() > deadline) throw new Error('a claim with a 40 ms TTL was still held after 5 s');
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        // The kept claim, made before it with the same TTL, outlived it: the renewal extended it.
        expect((await two.lookup('endpoint', 'kept'))?.id).toBe('k1');
        expect((await two.claim('endpoint', 'lapsed', holder('l2', 'n2'), undefined)).outcome).toBe('claimed');
      }));

    it('shows two brokers one table: a claim through one is seen, refused and taken over through the other', () =>
      withRouters(async (one, two) => {
        await one.claim('endpoint', 'dave', holder('d1', 'n1'), undefined);
        expect(await two.lookup('endpoint', 'dave')).toEqual(holder('d1', 'n1'));
        expect(await two.claim('endpoint', 'dave', holder('d2', 'n2'), undefined)).toEqual({ outcome: 'in-use' });
        expect((await two.claim('endpoint', 'dave', holder('d2', 'n2'), 's-d1')).outcome).toBe('replaced');
        expect((await one.lookup('endpoint', 'dave'))?.node).toBe('n2');
      }));
  });
}
