import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { VnfError } from '@vnf/core';
import { InBrowserHub } from '@vnf/in-browser-hub';
import { UnreliableHub } from '../src';
import type { UnreliableHubOptions } from '../src';
import { SEED, chaosHub, closeAll, connect, flush, inbox, losses, track, until, withSeed } from './helpers';

afterEach(closeAll);

describe('UnreliableHub construction', () => {
  const invalid: [string, unknown][] = [
    ['drop above 1', { drop: 1.5 }],
    ['negative drop', { drop: -0.1 }],
    ['NaN duplicate', { duplicate: NaN }],
    ['reorder as a string', { reorder: '0.5' }],
    ['negative latency', { latencyMs: -1 }],
    ['infinite jitter', { jitterMs: Infinity }],
    ['reorderDistance 0', { reorderDistance: 0 }],
    ['fractional reorderDistance', { reorderDistance: 1.5 }],
    ['negative reorderMaxHoldMs', { reorderMaxHoldMs: -5 }],
    ['zero bandwidth', { bytesPerSecond: 0 }],
    ['cut above 1', { cut: 2 }],
    ['blackhole not boolean', { blackhole: 'yes' }],
    ['negative seed', { seed: -1 }],
    ['fractional seed', { seed: 1.5 }],
    ['seed above 32 bits', { seed: 2 ** 32 }],
    ['empty seed', { seed: '' }],
    ['negative logSize', { logSize: -1 }],
    ['applyToIncoming not boolean', { applyToIncoming: 'no' }],
    ['negative lowWaterMark', { lowWaterMark: -1 }],
    ['a misspelt rule', { dropRate: 0.1 }],
    ['null options', null],
  ];

  it.each(invalid)('throws INVALID_ARGUMENT for %s', (_what, options) => {
    const inner = new InBrowserHub();
    let thrown: unknown;
    try {
      new UnreliableHub(inner, options as UnreliableHubOptions);
    } catch (err) {
      thrown = err;
    }
    expect(VnfError.is(thrown, 'INVALID_ARGUMENT')).toBe(true);
    expect((thrown as Error).message.length).toBeGreaterThan(20);
  });

  it('throws INVALID_ARGUMENT naming the option meant for a misspelt hub option or rule', () => {
    const inner = new InBrowserHub();
    expect(() => new UnreliableHub(inner, { dropRate: 0.1 } as UnreliableHubOptions)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', message: 'Unknown UnreliableHub option "dropRate". Did you mean "drop"?' }),
    );
    expect(() => new UnreliableHub(inner, { lowWaterMarkBytes: 1 } as UnreliableHubOptions)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('Did you mean "lowWaterMark"?') }),
    );
    void inner.close();
  });

  it('throws INVALID_ARGUMENT when the inner hub is not a hub', () => {
    expect(() => new UnreliableHub({} as InBrowserHub)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('exposes the seed it was given, a decimal string meaning that number', () => {
    expect(track(new UnreliableHub(new InBrowserHub(), { seed: 42 })).seed).toBe(42);
    expect(track(new UnreliableHub(new InBrowserHub(), { seed: '42' })).seed).toBe(42);
    expect(track(new UnreliableHub(new InBrowserHub(), { seed: 'nightly-run' })).seed).toBe('nightly-run');
  });

  it('picks a random seed when none is given, and exposes it for replay', () => {
    const first = track(new UnreliableHub(new InBrowserHub()));
    const second = track(new UnreliableHub(new InBrowserHub()));
    expect(Number.isInteger(first.seed)).toBe(true);
    expect(first.chaos.seed).toBe(first.seed);
    expect(first.seed).not.toBe(second.seed);
  });

  it('carries the inner hub\'s payload limit', () => {
    expect(track(new UnreliableHub(new InBrowserHub({ maxPayloadSize: 1234 }))).maxPayloadSize).toBe(1234);
  });
});

describe('UnreliableHub with no rules', () => {
  it('is a transparent pass-through: everything arrives in order, and the counters say so', () =>
    withSeed(SEED, async () => {
      const hub = chaosHub();
      const a = hub.openEndpoint('a');
      const b = hub.openEndpoint('b');
      await connect(a, b);
      const got = inbox(b);
      for (let i = 0; i < 300; i++) a.send(b.eva, `m${i}`);
      await flush(hub, a, b, got);
      expect(got.map((e) => e.message)).toEqual([...Array.from({ length: 300 }, (_, i) => `m${i}`), 'flush']);
      const stats = hub.chaos.stats();
      expect(stats).toMatchObject({ sent: 301, delivered: 301, dropped: 0, duplicated: 0, reordered: 0, delayed: 0, discarded: 0 });
      expect(new Set(hub.chaos.events().map((e) => e.action))).toEqual(new Set(['delivered']));
    }));
});

describe('held messages', () => {
  it.each(['closeConnection', 'connection lost', 'destroy', 'hub.close'] as const)(
    'are never delivered after %s, and leave no timer behind',
    (how) =>
      withSeed(SEED, async () => {
        const hub = chaosHub({ latencyMs: 60_000 });
        const a = hub.openEndpoint('a');
        const b = hub.openEndpoint('b');
        await connect(a, b);
        const got = inbox(b);
        const lostAtB = losses(b);
        // The timers the held messages need: each must be cleared, not left to fire in a minute.
        const setSpy = jest.spyOn(globalThis, 'setTimeout');
        for (let i = 0; i < 5; i++) a.send(b.eva, `held${i}`);
        const created = setSpy.mock.results.map((r) => r.value);
        setSpy.mockRestore();
        expect(created.length).toBeGreaterThan(0);
        expect(a.bufferedAmount(b.eva)).toBe(5 * 5);
        const clearSpy = jest.spyOn(globalThis, 'clearTimeout');
        if (how === 'closeConnection') a.closeConnection(b.eva);
        else if (how === 'connection lost') b.closeConnection(a.eva);
        else if (how === 'destroy') a.destroy();
        else await hub.close();
        if (how !== 'hub.close') await until('b to see the connection end', () => lostAtB.length === 1 || how === 'connection lost');
        await until('the held messages to be discarded', () => hub.chaos.stats().discarded === 5);
        const cleared = new Set(clearSpy.mock.calls.map((call) => call[0]));
        clearSpy.mockRestore();
        expect(created.every((timer) => cleared.has(timer as ReturnType<typeof setTimeout>))).toBe(true);
        expect(got).toEqual([]);
        expect(hub.chaos.stats().delivered).toBe(0);
      }),
  );

  it('keep their own copy of binary: the sender reusing its buffer changes nothing', () =>
    withSeed(SEED, async () => {
      const hub = chaosHub({ latencyMs: 5 });
      const a = hub.openEndpoint('a');
      const b = hub.openEndpoint('b');
      await connect(a, b);
      const got = inbox(b);
      const bytes = new Uint8Array([1, 2, 3, 4]);
      a.send(b.eva, bytes);
      bytes.fill(0);
      await until('the message', () => got.length === 1);
      expect(Array.from(got[0].message as Uint8Array)).toEqual([1, 2, 3, 4]);
    }));
});

describe('bandwidth cap', () => {
  it('queues messages in order, counts them in bufferedAmount and emits drain once they left', () =>
    withSeed(SEED, async () => {
      const hub = chaosHub({ bytesPerSecond: 50_000, highWaterMark: 2, lowWaterMark: 1 }, { highWaterMark: 1, lowWaterMark: 0 });
      const a = hub.openEndpoint('a');
      const b = hub.openEndpoint('b');
      await connect(a, b);
      const got = inbox(b);
      const drained: string[] = [];
      const handedOnAtDrain: number[] = [];
      a.on('drain', (peer) => {
        drained.push(peer);
        handedOnAtDrain.push(hub.chaos.stats().delivered);
      });
      const chunk = 'x'.repeat(1000);
      for (let i = 0; i < 10; i++) a.send(b.eva, `${i}`.padEnd(1000, chunk));
      expect(a.bufferedAmount(b.eva)).toBeGreaterThan(0);
      expect(a.bufferedAmount(b.eva)).toBeLessThanOrEqual(10_000);
      await until('drain', () => drained.length > 0);
      expect(drained).toEqual([b.eva]);
      // With lowWaterMark 1 (the inner hub's high mark; nothing of 1 000 bytes fits under it), drain waits until the
      // cap has handed every message on and the inner hub delivered them.
      expect(handedOnAtDrain).toEqual([10]);
      // The inner hub may still be carrying the last ones (its bufferedAmount counts them): then nothing is left.
      await until('bufferedAmount to fall to 0', () => a.bufferedAmount(b.eva) === 0);
      await until('10 messages', () => got.length === 10);
      expect(got.map((e) => (e.message as string)[0])).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
      expect(hub.chaos.stats().delayed).toBe(10);
    }));
});

describe('incoming chaos', () => {
  async function remoteSetup(options: UnreliableHubOptions) {
    const inner = new InBrowserHub();
    const hub = track(new UnreliableHub(inner, { seed: SEED, ...options }));
    const local = hub.openEndpoint('local');
    // Opened on the inner hub directly: as far as the UnreliableHub knows, a peer on another machine.
    const remote = inner.openEndpoint('remote');
    await connect(remote, local);
    return { hub, local, remote, got: inbox(local) };
  }

  it('applies to messages from evas that are not endpoints of the hub', () =>
    withSeed(SEED, async () => {
      const { hub, local, remote, got } = await remoteSetup({ drop: 1 });
      for (let i = 0; i < 20; i++) remote.send(local.eva, `r${i}`);
      // Incoming chaos decides when a message arrives, not when the remote sent it.
      await until('20 arrivals', () => hub.chaos.stats().sent === 20);
      hub.chaos.set({ drop: 0 });
      remote.send(local.eva, 'after');
      await until('the message after the drops', () => got.length === 1);
      expect(got.map((e) => e.message)).toEqual(['after']);
      expect(hub.chaos.statsFor('remote', 'local')).toMatchObject({ sent: 21, dropped: 20, delivered: 1 });
    }));

  it('is off with applyToIncoming: false', () =>
    withSeed(SEED, async () => {
      const { hub, local, remote, got } = await remoteSetup({ drop: 1, applyToIncoming: false });
      for (let i = 0; i < 20; i++) remote.send(local.eva, `r${i}`);
      await until('20 messages', () => got.length === 20);
      expect(hub.chaos.stats().sent).toBe(0);
    }));

  it('is not applied twice to messages between endpoints of the same hub', () =>
    withSeed(SEED, async () => {
      const hub = chaosHub({ duplicate: 1 });
      const a = hub.openEndpoint('a');
      const b = hub.openEndpoint('b');
      await connect(a, b);
      const got = inbox(b);
      a.send(b.eva, 'once');
      hub.chaos.set({ duplicate: 0 });
      a.send(b.eva, 'end');
      await until('end', () => got.some((e) => e.message === 'end'));
      expect(got.map((e) => e.message)).toEqual(['once', 'once', 'end']);
    }));
});
