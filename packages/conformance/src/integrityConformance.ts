import { afterEach, describe, expect, it } from '@jest/globals';
import { ConnectionStatus, VnfError } from '@vnf/core';
import type { Hub, MessageEvent } from '@vnf/core';
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
      ctx.a.send(ctx.b.eva, 'm1');
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
