import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { VnfError } from '@vnf/core';
import { InBrowserHub } from '@vnf/in-browser-hub';
import { UnreliableHub } from '../src';
import type { ChaosEvent } from '../src';
import { SEED, chaosHub, closeAll, connect, inbox, track, until, withSeed } from './helpers';

/**
 * What reaches the event loop as an uncaught exception: callUserListener rethrows on a microtask what it could
 * report nowhere. The spy runs every microtask as usual and keeps what one throws instead of letting it escape.
 */
let escaped: unknown[] = [];
beforeEach(() => {
  escaped = [];
  const original = globalThis.queueMicrotask;
  jest.spyOn(globalThis, 'queueMicrotask').mockImplementation((task) =>
    original(() => {
      try {
        task();
      } catch (err) {
        escaped.push(err);
      }
    }),
  );
});
afterEach(async () => {
  await closeAll();
  jest.restoreAllMocks();
});

/** Lets every pending microtask and one macrotask run, so what would escape has escaped. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('a throwing onEvent listener', () => {
  it('becomes a LISTENER_ERROR error event on the sending endpoint; messages keep flowing', () =>
    withSeed(SEED, async () => {
      const hub = chaosHub();
      const a = hub.openEndpoint('a');
      const b = hub.openEndpoint('b');
      await connect(a, b);
      const got = inbox(b);
      const errorsAtA: VnfError[] = [];
      const errorsAtB: VnfError[] = [];
      a.on('error', (error) => errorsAtA.push(error));
      b.on('error', (error) => errorsAtB.push(error));
      const boom = new Error('listener bug');
      hub.chaos.onEvent(() => {
        throw boom;
      });
      const seen: ChaosEvent[] = [];
      hub.chaos.onEvent((event) => seen.push(event));
      for (let i = 0; i < 5; i++) a.send(b.eva, `m${i}`);
      await until('5 messages', () => got.length === 5);
      expect(got.map((e) => e.message)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
      // One `delivered` event per message, each reported on a (the event's `from`), none on b.
      expect(errorsAtA).toHaveLength(5);
      for (const error of errorsAtA) {
        expect(VnfError.is(error, 'LISTENER_ERROR')).toBe(true);
        expect(error.message).toMatch(/chaos\.onEvent threw: Error: listener bug/);
        expect(error.cause).toBe(boom);
      }
      expect(errorsAtB).toEqual([]);
      // The listener after the throwing one still saw every event.
      expect(seen.map((e) => e.action)).toEqual(['delivered', 'delivered', 'delivered', 'delivered', 'delivered']);
      await settle();
      expect(escaped).toEqual([]);
    }));

  it('is reported on the receiving endpoint when the sender is not an endpoint of this hub', () =>
    withSeed(SEED, async () => {
      const inner = new InBrowserHub();
      const hub = track(new UnreliableHub(inner, { seed: SEED }));
      const local = hub.openEndpoint('local');
      const remote = inner.openEndpoint('remote');
      await connect(remote, local);
      const got = inbox(local);
      const errors: VnfError[] = [];
      local.on('error', (error) => errors.push(error));
      hub.chaos.onEvent(() => {
        throw new Error('listener bug');
      });
      remote.send(local.eva, 'in');
      remote.send(local.eva, 'in again');
      await until('2 messages', () => got.length === 2);
      expect(errors.map((e) => e.code)).toEqual(['LISTENER_ERROR', 'LISTENER_ERROR']);
      await settle();
      expect(escaped).toEqual([]);
    }));

  it('passes a VnfError it throws on as it is', () =>
    withSeed(SEED, async () => {
      const hub = chaosHub({ drop: 1 });
      const a = hub.openEndpoint('a');
      const b = hub.openEndpoint('b');
      await connect(a, b);
      const errors: VnfError[] = [];
      a.on('error', (error) => errors.push(error));
      const own = new VnfError('INTERNAL', 'the listener\'s own error');
      hub.chaos.onEvent(() => {
        throw own;
      });
      a.send(b.eva, 'dropped');
      expect(errors).toEqual([own]);
    }));

  it('with no error listener on the endpoint, is rethrown on a microtask, never into send', () =>
    withSeed(SEED, async () => {
      const hub = chaosHub();
      const a = hub.openEndpoint('a');
      const b = hub.openEndpoint('b');
      await connect(a, b);
      const got = inbox(b);
      const boom = new Error('listener bug');
      hub.chaos.onEvent(() => {
        throw boom;
      });
      expect(() => a.send(b.eva, 'still sent')).not.toThrow();
      await until('the message', () => got.length === 1);
      await settle();
      expect(escaped).toEqual([boom]);
    }));
});

describe('a throwing drain listener', () => {
  async function capped(withErrorListener: boolean) {
    const hub = chaosHub({ bytesPerSecond: 100_000, highWaterMark: 2, lowWaterMark: 1 }, { highWaterMark: 1, lowWaterMark: 0 });
    const a = hub.openEndpoint('a');
    const b = hub.openEndpoint('b');
    await connect(a, b);
    const got = inbox(b);
    const errors: VnfError[] = [];
    if (withErrorListener) a.on('error', (error) => errors.push(error));
    const boom = new Error('drain listener bug');
    let drains = 0;
    a.on('drain', () => {
      drains += 1;
      throw boom;
    });
    return { hub, a, b, got, errors, boom, drains: () => drains };
  }

  it('becomes a LISTENER_ERROR error event; nothing escapes and the endpoint keeps working', () =>
    withSeed(SEED, async () => {
      const { a, b, got, errors, boom, drains } = await capped(true);
      for (let i = 0; i < 5; i++) a.send(b.eva, 'x'.repeat(1000));
      await until('the drain', () => drains() === 1);
      await until('the 5 messages', () => got.length === 5);
      expect(errors).toHaveLength(1);
      expect(VnfError.is(errors[0], 'LISTENER_ERROR')).toBe(true);
      expect(errors[0].cause).toBe(boom);
      // Later drains are reported the same way: the endpoint was not left in a broken state.
      for (let i = 0; i < 5; i++) a.send(b.eva, 'y'.repeat(1000));
      await until('the second drain', () => drains() === 2);
      await until('the 10 messages', () => got.length === 10);
      expect(errors).toHaveLength(2);
      await settle();
      expect(escaped).toEqual([]);
    }));

  it('with no error listener, is rethrown on a microtask instead of out of the timer', () =>
    withSeed(SEED, async () => {
      const { a, b, got, boom, drains } = await capped(false);
      for (let i = 0; i < 5; i++) a.send(b.eva, 'x'.repeat(1000));
      await until('the drain', () => drains() === 1);
      await until('the 5 messages', () => got.length === 5);
      await settle();
      expect(escaped).toEqual([boom]);
    }));
});
