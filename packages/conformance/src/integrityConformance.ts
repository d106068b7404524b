import { afterEach, describe, expect, it } from '@jest/globals';
import { ConnectionStatus, VnfError } from '@vnf/core';
import type { Endpoint, Hub, MessageEvent } from '@vnf/core';
import { TapHub, type RecordTap } from './TapHub';
import { uniqueEva, until } from './waiting';

export interface IntegrityConformanceSetup {
  /**
   * Creates the stack under test with `beneath(inner)` where its records should be attacked: directly beneath the
   * encrypting layer (`new SecureHub(beneath(new InBrowserHub()), { identity })`). The suite closes the hub.
   */
  createHub(beneath: (inner: Hub) => Hub): Hub | Promise<Hub>;
  /**
   * Three hubs of the layer on one network, each with its own identity, the first pinning keys on first use (or
   * however the layer pins): the suite then checks that an eva that comes back under another identity — as a broker
   * handing a freed eva to an impostor would make it — is refused with KEY_MISMATCH. The suite closes them.
   */
  createIdentities?(): Promise<[Hub, Hub, Hub]> | [Hub, Hub, Hub];
  /** How long to wait for an expected event, ms. Default 5000. */
  timeoutMs?: number;
  /** The layer's endpoints have `sendAcknowledged(target, message)`, acknowledged by the peer under the layer's keys. */
  acknowledges?: boolean;
  /**
   * The layer encrypts a multicast once for all its targets (a group key handed to each over its pairwise session):
   * the suite then checks that a target left out of a later multicast cannot read it even when the broker hands it
   * that record, and that a target of the group cannot forge the sender's multicasts to the others.
   */
  groups?: {
    /** Whether a record beneath the layer is a multicast's one record (not a pairwise one). */
    isGroupRecord(record: Uint8Array): boolean;
    /**
     * The record `member` could make with what the layer handed it for its group with `senderEva`, claiming to come
     * from that sender and carrying the string `message`: what a member colluding with the broker would inject.
     */
    forge(member: Endpoint, senderEva: string, message: string): Uint8Array;
  };
}

/**
 * The rules of an authenticated, encrypted layer over an ordered inner hub (docs/security.md, SecureHub): one
 * ciphertext record tampered with, replayed, reordered or forged beneath it yields an `error` INTEGRITY and ends
 * the connection, and never a delivered message.
 */
export function integrityConformance(name: string, setup: IntegrityConformanceSetup): void {
  const timeoutMs = setup.timeoutMs ?? 5000;

  describe(`${name} — integrity conformance`, () => {
    const hubs: Hub[] = [];
    afterEach(async () => {
      await Promise.all(hubs.splice(0).map((hub) => hub.close().catch(() => undefined)));
    });

    async function connectedPair() {
      let tapHub: TapHub | undefined;
      const hub = await setup.createHub((inner) => (tapHub = new TapHub(inner)));
      hubs.push(hub);
      if (!tapHub) throw new Error('createHub must call beneath(inner) once');
      const a = hub.openEndpoint(uniqueEva('a'));
      const b = hub.openEndpoint(uniqueEva('b'));
      const atB: MessageEvent[] = [];
      const errorsAtB: VnfError[] = [];
      const lostAtB: string[] = [];
      b.on('message', (event) => atB.push(event));
      b.on('error', (error) => errorsAtB.push(error));
      b.on('connectionLost', (peer) => lostAtB.push(peer));
      expect((await a.openConnection(b.eva)).status).toBe(ConnectionStatus.CONNECTED);
      a.send(b.eva, 'm0');
      await until('m0 at the target', timeoutMs, () => atB.length === 1);
      const tap = tapHub;
      return { tap, a, b, atB, errorsAtB, lostAtB };
    }

    /** Lets `change` handle the next record from `from` only. */
    function next(from: string, change: (record: Uint8Array, forward: (r: Uint8Array) => void) => void): RecordTap {
      let done = false;
      return (record, source, _to, forward) => {
        if (done || source !== from) return forward(record);
        done = true;
        change(record, forward);
      };
    }

    async function expectIntegrity(ctx: Awaited<ReturnType<typeof connectedPair>>, delivered: string[]): Promise<void> {
      await until('an INTEGRITY error at the target', timeoutMs, () => ctx.errorsAtB.some((e) => e.code === 'INTEGRITY'), () => `messages: ${ctx.atB.map((e) => e.message).join(', ')}`);
      await until('the target to lose the connection', timeoutMs, () => ctx.lostAtB.includes(ctx.a.eva));
      await until('the sender to lose the connection', timeoutMs, () => !ctx.a.isConnected(ctx.b.eva));
      expect(ctx.errorsAtB.map((e) => e.code)).toEqual(['INTEGRITY']);
      expect(ctx.atB.map((e) => e.message)).toEqual(delivered);
      expect(ctx.lostAtB).toEqual([ctx.a.eva]);
    }

    it('a tampered ciphertext record yields INTEGRITY, never a delivered message', async () => {
      const ctx = await connectedPair();
      ctx.tap.tap = next(ctx.a.eva, (record, forward) => {
        const changed = record.slice();
        changed[changed.length - 1] ^= 0x01;
        forward(changed);
      });
      ctx.a.send(ctx.b.eva, 'm1');
      await expectIntegrity(ctx, ['m0']);
    }, timeoutMs * 4);

    it('a replayed ciphertext record yields INTEGRITY, never a second delivery', async () => {
      const ctx = await connectedPair();
      ctx.tap.tap = next(ctx.a.eva, (record, forward) => {
        forward(record);
        forward(record);
      });
      ctx.a.send(ctx.b.eva, 'm1');
      await expectIntegrity(ctx, ['m0', 'm1']);
    }, timeoutMs * 4);

    it('two ciphertext records swapped yield INTEGRITY, never a message out of order', async () => {
      const ctx = await connectedPair();
      let held: Uint8Array | null = null;
      ctx.tap.tap = (record, from, _to, forward) => {
        if (from !== ctx.a.eva) return forward(record);
        if (held === null) held = record;
        else {
          forward(record);
          forward(held);
          ctx.tap.tap = null;
        }
      };
      // Two turns: a layer may carry the messages of one turn in one record.
      ctx.a.send(ctx.b.eva, 'm1');
      await until('the first record held beneath', timeoutMs, () => held !== null);
      ctx.a.send(ctx.b.eva, 'm2');
      await expectIntegrity(ctx, ['m0']);
    }, timeoutMs * 4);

    it('a forged record (its second half made up beneath) yields INTEGRITY, never a delivered message', async () => {
      const ctx = await connectedPair();
      ctx.tap.tap = next(ctx.a.eva, (record, forward) => {
        const forged = record.slice();
        globalThis.crypto.getRandomValues(forged.subarray(Math.ceil(forged.length / 2)));
        forward(forged);
      });
      ctx.a.send(ctx.b.eva, 'm1');
      await expectIntegrity(ctx, ['m0']);
    }, timeoutMs * 4);

    /** a connected to b, c and d, each of whom got a first multicast to all three. */
    async function connectedGroup() {
      let tapHub: TapHub | undefined;
      const hub = await setup.createHub((inner) => (tapHub = new TapHub(inner)));
      hubs.push(hub);
      if (!tapHub) throw new Error('createHub must call beneath(inner) once');
      const tap = tapHub;
      const a = hub.openEndpoint(uniqueEva('a'));
      const members = ['b', 'c', 'd'].map((name) => {
        const endpoint = hub.openEndpoint(uniqueEva(name));
        const got: unknown[] = [];
        const errors: string[] = [];
        endpoint.on('message', (event) => got.push(event.message));
        endpoint.on('error', (error) => errors.push(error.code));
        return { endpoint, got, errors };
      });
      for (const { endpoint } of members) expect((await a.openConnection(endpoint.eva)).status).toBe(ConnectionStatus.CONNECTED);
      a.multicast(members.map((m) => m.endpoint.eva), 'g0');
      await until('g0 at every target', timeoutMs, () => members.every((m) => m.got.length === 1));
      const [b, c, d] = members;
      return { tap, a, b: b!, c: c!, d: d! };
    }

    it('a multicast record tampered toward one target yields INTEGRITY there, never a delivered message; the others get it', async () => {
      const { tap, a, b, c, d } = await connectedGroup();
      tap.tap = (record, from, to, forward) => {
        if (from !== a.eva || to !== b.endpoint.eva) return forward(record);
        tap.tap = null;
        const changed = record.slice();
        changed[changed.length - 1] ^= 0x01;
        forward(changed);
      };
      a.multicast([b.endpoint.eva, c.endpoint.eva, d.endpoint.eva], 'g1');
      await until('an INTEGRITY error at the target whose record was changed', timeoutMs, () => b.errors.includes('INTEGRITY'));
      await until('g1 at the others', timeoutMs, () => c.got.length === 2 && d.got.length === 2);
      expect(b.got).toEqual(['g0']);
      expect(c.got).toEqual(['g0', 'g1']);
      expect(d.got).toEqual(['g0', 'g1']);
    }, timeoutMs * 4);

    if (setup.groups) {
      const groups = setup.groups;
      it('a target left out of a multicast never reads it, even when the broker hands it the multicast\'s record', async () => {
        const { tap, a, b, c, d } = await connectedGroup();
        // The broker's view: each multicast record for b is also delivered to d, who was a target of a's first one.
        let copied = 0;
        tap.tap = (record, from, to, forward) => {
          forward(record);
          if (from !== a.eva || to !== b.endpoint.eva || !groups.isGroupRecord(record)) return;
          copied += 1;
          tap.inject(from, d.endpoint.eva, record.slice());
        };
        for (let i = 1; i <= 3; i++) {
          a.multicast([b.endpoint.eva, c.endpoint.eva], `for b and c ${i}`);
          await until(`multicast ${i} at b and c`, timeoutMs, () => b.got.length === 1 + i && c.got.length === 1 + i);
          // d's answer to what it was handed (if any) has come back before the next: a message from d, in order.
          const atA: unknown[] = [];
          const listener = (event: MessageEvent) => atA.push(event.message);
          a.on('message', listener);
          d.endpoint.send(a.eva, `d${i}`);
          await until(`d${i} at a`, timeoutMs, () => atA.includes(`d${i}`));
          a.off('message', listener);
          a.send(d.endpoint.eva, `to d ${i}`);
          await until(`to d ${i} at d`, timeoutMs, () => d.got.includes(`to d ${i}`));
        }
        expect(copied).toBe(3);
        expect(d.got).toEqual(['g0', 'to d 1', 'to d 2', 'to d 3']);
        expect(b.got).toEqual(['g0', 'for b and c 1', 'for b and c 2', 'for b and c 3']);
      }, timeoutMs * 6);

      it('a multicast forged by another target of the group (with what it was handed for it) yields INTEGRITY, never a delivered message', async () => {
        const { tap, a, b, c, d } = await connectedGroup();
        const forged = groups.forge(c.endpoint, a.eva, 'forged by c');
        tap.tap = (record, from, to, forward) => {
          if (from !== a.eva || to !== b.endpoint.eva) return forward(record);
          tap.tap = null;
          forward(forged);
        };
        a.multicast([b.endpoint.eva, c.endpoint.eva, d.endpoint.eva], 'g1');
        await until('an INTEGRITY error at the target the forgery was handed to', timeoutMs, () => b.errors.includes('INTEGRITY'));
        await until('g1 at the others', timeoutMs, () => c.got.length === 2 && d.got.length === 2);
        expect(b.got).toEqual(['g0']);
      }, timeoutMs * 4);
    }

    if (setup.acknowledges) {
      it('a forged acknowledgement never resolves sendAcknowledged: the message dropped beneath, a record forged toward its sender', async () => {
        const ctx = await connectedPair();
        const sender = ctx.a as typeof ctx.a & { sendAcknowledged(target: string, message: unknown): Promise<void> };
        const errorsAtA: VnfError[] = [];
        ctx.a.on('error', (error) => errorsAtA.push(error));
        // The acknowledged message never reaches b; then b's next record is replaced by one made up beneath.
        let dropped = 0;
        ctx.tap.tap = (record, from, _to, forward) => {
          if (from === ctx.a.eva && dropped === 0) {
            dropped += 1;
            return;
          }
          if (from === ctx.b.eva) {
            const forged = record.slice();
            globalThis.crypto.getRandomValues(forged.subarray(Math.ceil(forged.length / 2)));
            ctx.tap.tap = null;
            return forward(forged);
          }
          forward(record);
        };
        const outcome = sender.sendAcknowledged(ctx.b.eva, 'never delivered').then(
          () => 'resolved',
          (err: unknown) => (VnfError.is(err) ? err.code : String(err)),
        );
        await until('the message dropped beneath', timeoutMs, () => dropped === 1);
        ctx.b.send(ctx.a.eva, 'b1');
        expect(await outcome).toBe('INTEGRITY');
        expect(errorsAtA.map((e) => e.code)).toEqual(['INTEGRITY']);
        expect(ctx.atB.map((e) => e.message)).toEqual(['m0']);
      }, timeoutMs * 4);

      it('sendAcknowledged resolves once the peer\'s application has the message', async () => {
        const ctx = await connectedPair();
        const sender = ctx.a as typeof ctx.a & { sendAcknowledged(target: string, message: unknown): Promise<void> };
        await sender.sendAcknowledged(ctx.b.eva, 'm1');
        expect(ctx.atB.map((e) => e.message)).toEqual(['m0', 'm1']);
        await sender.sendAcknowledged(ctx.b.eva, new Uint8Array([1, 2, 3]));
        expect(ctx.atB[2]!.message).toEqual(new Uint8Array([1, 2, 3]));
      }, timeoutMs * 4);
    }

    if (setup.createIdentities) {
      it('an eva that comes back under another identity ends openConnection in FAILED/KEY_MISMATCH in 20 of 20 trials, and nothing is delivered', async () => {
        const outcomes: string[] = [];
        for (let trial = 0; trial < 20; trial++) {
          const [pinning, honest, impostor] = await setup.createIdentities!();
          hubs.push(pinning, honest, impostor);
          const a = pinning.openEndpoint(uniqueEva('a'));
          const eva = uniqueEva('b');
          const b = honest.openEndpoint(eva);
          expect((await a.openConnection(eva)).status).toBe(ConnectionStatus.CONNECTED);
          const lost = until('the honest peer gone', timeoutMs, () => !a.isConnected(eva));
          b.destroy();
          await lost;
          const mallory = impostor.openEndpoint(eva);
          const atMallory: MessageEvent[] = [];
          mallory.on('message', (event) => atMallory.push(event));
          const result = await a.openConnection(eva);
          outcomes.push(`${result.status}/${result.reason}`);
          expect(a.isConnected(eva)).toBe(false);
          expect(() => a.send(eva, 'for b only')).toThrow();
          expect(mallory.connections()).toEqual([]);
          expect(atMallory).toEqual([]);
          await Promise.all(hubs.splice(hubs.length - 3).map((hub) => hub.close()));
        }
        expect(outcomes).toEqual(Array(20).fill('FAILED/KEY_MISMATCH'));
      }, timeoutMs * 20);
    }
  });
}
