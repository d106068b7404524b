import { afterEach, describe, expect, it } from '@jest/globals';
import { ConnectionStatus } from '@vnf/core';
import type { MessageEvent } from '@vnf/core';
import type { UnreliableHubOptions } from '../src';
import type { ChaosEvent } from '../src';
import { DEFAULT_RULES } from '../src';
import { SEED, chaosHub, closeAll, connect, flush, inbox, losses, until, withSeed, withoutTimes } from './helpers';

afterEach(closeAll);

/** a, b (and c) on one chaos hub, a connected to b (and to c). */
async function trio(options: UnreliableHubOptions = {}) {
  const hub = chaosHub(options);
  const a = hub.openEndpoint('a');
  const b = hub.openEndpoint('b');
  const c = hub.openEndpoint('c');
  await connect(a, b);
  await connect(a, c);
  return { hub, a, b, c };
}

const texts = (got: MessageEvent[]): unknown[] => got.map((e) => e.message).filter((m) => m !== 'flush' && m !== 'tail');
const seqsOf = (events: ChaosEvent[], action: string): number[] =>
  events.filter((e) => e.action === action).map((e) => e.seq as number);

/** Sends `count` messages a → b under `options` and returns what arrived and what the hub did. */
async function dropRun(seed: number | string, count: number, options: UnreliableHubOptions) {
  const hub = chaosHub({ ...options, seed, logSize: 10_000 });
  const a = hub.openEndpoint('a');
  const b = hub.openEndpoint('b');
  await connect(a, b);
  const got = inbox(b);
  for (let i = 1; i <= count; i++) a.send(b.eva, `m${i}`);
  // A message held for reordering waits for reorderDistance later ones to overtake it (maxHoldMs is long here):
  // with the chaos off, `tail` messages release the last ones held, whichever the seed held.
  const tail = options.reorder ? (options.reorderDistance ?? DEFAULT_RULES.reorderDistance) : 0;
  if (tail > 0) hub.chaos.setFor('a', 'b', { drop: 0, duplicate: 0, reorder: 0, cut: 0 });
  for (let i = 0; i < tail; i++) a.send(b.eva, 'tail');
  await flush(hub, a, b, got);
  const events = hub.chaos.events().filter((e) => e.seq === undefined || e.seq <= count);
  await hub.close();
  return { got: texts(got), events, stats: hub.chaos.statsFor('a', 'b') };
}

describe('drop', () => {
  it('drops about the given share, exactly the messages it logs, and the same ones for the same seed', () =>
    withSeed(SEED, async () => {
      const first = await dropRun(SEED, 2000, { drop: 0.3 });
      const dropped = seqsOf(first.events, 'dropped');
      expect(dropped.length).toBeGreaterThan(500);
      expect(dropped.length).toBeLessThan(700);
      const droppedSet = new Set(dropped);
      const expected = Array.from({ length: 2000 }, (_, i) => i + 1).filter((n) => !droppedSet.has(n)).map((n) => `m${n}`);
      expect(first.got).toEqual(expected);
      expect(first.stats).toMatchObject({ sent: 2001, dropped: dropped.length, delivered: 2001 - dropped.length });

      const replay = await dropRun(SEED, 2000, { drop: 0.3 });
      expect(withoutTimes(replay.events)).toEqual(withoutTimes(first.events));
      expect(replay.got).toEqual(first.got);
    }));

  it('drops other messages with another seed', () =>
    withSeed(SEED, async () => {
      const first = await dropRun(SEED, 300, { drop: 0.3 });
      const other = await dropRun(`${SEED}-other`, 300, { drop: 0.3 });
      expect(seqsOf(other.events, 'dropped')).not.toEqual(seqsOf(first.events, 'dropped'));
    }));

  it('decides each pair from its own key: traffic on other pairs does not change it', () =>
    withSeed(SEED, async () => {
      const alone = await dropRun(SEED, 300, { drop: 0.3 });
      const hub = chaosHub({ drop: 0.3, logSize: 10_000 });
      const a = hub.openEndpoint('a');
      const b = hub.openEndpoint('b');
      const c = hub.openEndpoint('c');
      await connect(a, b);
      await connect(a, c);
      const got = inbox(b);
      for (let i = 1; i <= 300; i++) {
        a.send(c.eva, `noise${i}`);
        if (i % 3 === 0) c.send(a.eva, `noise-back${i}`);
        a.send(b.eva, `m${i}`);
      }
      await flush(hub, a, b, got);
      const toB = hub.chaos.events().filter((e) => e.from === 'a' && e.to === 'b' && e.seq !== 301);
      expect(withoutTimes(toB)).toEqual(withoutTimes(alone.events));
      expect(texts(got)).toEqual(alone.got);
    }));

  it('keeps one rule\'s decisions when another rule is turned on', () =>
    withSeed(SEED, async () => {
      const plain = await dropRun(SEED, 500, { drop: 0.3 });
      const withDuplicates = await dropRun(SEED, 500, { drop: 0.3, duplicate: 0.2 });
      expect(seqsOf(withDuplicates.events, 'dropped')).toEqual(seqsOf(plain.events, 'dropped'));
    }));
});

describe('replay', () => {
  async function mixedRun(seed: number | string) {
    const hub = chaosHub({ seed, drop: 0.1, duplicate: 0.1, reorder: 0.1, reorderDistance: 2, reorderMaxHoldMs: 60_000, logSize: 10_000 });
    const a = hub.openEndpoint('a');
    const b = hub.openEndpoint('b');
    await connect(a, b);
    const atA = inbox(a);
    const atB = inbox(b);
    for (let i = 1; i <= 500; i++) {
      a.send(b.eva, `ab${i}`);
      b.send(a.eva, `ba${i}`);
    }
    // Held messages still waiting for overtakers are released by messages sent after the chaos is turned off.
    hub.chaos.reset();
    for (let i = 0; i < 3; i++) {
      a.send(b.eva, `tail${i}`);
      b.send(a.eva, `tail${i}`);
    }
    const expected = (who: 'a' | 'b'): number => {
      const s = hub.chaos.statsFor(who === 'a' ? 'b' : 'a', who);
      return s.sent - s.dropped + s.duplicated;
    };
    await until('every surviving message', () => atA.length === expected('a') && atB.length === expected('b'));
    const result = { events: withoutTimes(hub.chaos.events()), atA: texts(atA), atB: texts(atB), stats: hub.chaos.stats() };
    await hub.close();
    return result;
  }

  it('two runs with the same seed produce the same event log and the same deliveries', () =>
    withSeed(SEED, async () => {
      const first = await mixedRun(SEED);
      expect(first.stats.dropped).toBeGreaterThan(0);
      expect(first.stats.duplicated).toBeGreaterThan(0);
      expect(first.stats.reordered).toBeGreaterThan(0);
      const second = await mixedRun(SEED);
      expect(second.events).toEqual(first.events);
      expect(second.atA).toEqual(first.atA);
      expect(second.atB).toEqual(first.atB);
    }));
});

describe('duplicate', () => {
  it('delivers the chosen messages twice and counts them', () =>
    withSeed(SEED, async () => {
      const run = await dropRun(SEED, 500, { duplicate: 0.2 });
      const duplicated = seqsOf(run.events, 'duplicated');
      expect(duplicated.length).toBeGreaterThan(60);
      expect(duplicated.length).toBeLessThan(140);
      expect(run.stats.duplicated).toBe(duplicated.length);
      expect(run.got).toHaveLength(500 + duplicated.length);
      const twice = new Set(duplicated);
      const expected = Array.from({ length: 500 }, (_, i) => i + 1).flatMap((n) => (twice.has(n) ? [`m${n}`, `m${n}`] : [`m${n}`]));
      expect(run.got).toEqual(expected);
    }));
});

describe('reorder', () => {
  it('lets exactly reorderDistance later messages overtake a held one, losing none', () =>
    withSeed(SEED, async () => {
      const run = await dropRun(SEED, 300, { reorder: 0.05, reorderDistance: 3, reorderMaxHoldMs: 60_000 });
      const reordered = seqsOf(run.events, 'reordered');
      expect(reordered.length).toBeGreaterThan(3);
      expect(run.stats.reordered).toBe(reordered.length);
      expect(run.got).not.toEqual(Array.from({ length: 300 }, (_, i) => `m${i + 1}`));
      expect([...run.got].sort()).toEqual(Array.from({ length: 300 }, (_, i) => `m${i + 1}`).sort());
      // A held message that no other held message interferes with arrives after the 3 that followed it.
      const isolated = reordered.filter((n) => n <= 296 && !reordered.some((o) => o !== n && Math.abs(o - n) <= 4));
      expect(isolated.length).toBeGreaterThan(0);
      for (const n of isolated) {
        expect(run.got.indexOf(`m${n}`)).toBe(run.got.indexOf(`m${n + 3}`) + 1);
      }
    }));

  it('releases a held message after reorderMaxHoldMs when nothing overtakes it', () =>
    withSeed(SEED, async () => {
      const hub = chaosHub({ reorder: 1, reorderMaxHoldMs: 20 });
      const a = hub.openEndpoint('a');
      const b = hub.openEndpoint('b');
      await connect(a, b);
      const got = inbox(b);
      a.send(b.eva, 'lonely');
      await until('the held message', () => got.length === 1);
      expect(hub.chaos.stats()).toMatchObject({ reordered: 1, delivered: 1 });
    }));
});

describe('latency and jitter', () => {
  it('holds every message, delivers each once, and jitter reorders them', () =>
    withSeed(SEED, async () => {
      const hub = chaosHub({ latencyMs: 5, jitterMs: 40 });
      const a = hub.openEndpoint('a');
      const b = hub.openEndpoint('b');
      await connect(a, b);
      const got = inbox(b);
      const sent = Array.from({ length: 100 }, (_, i) => `m${i}`);
      for (const m of sent) a.send(b.eva, m);
      expect(a.bufferedAmount(b.eva)).toBeGreaterThan(0);
      expect(got).toEqual([]);
      await until('100 messages', () => got.length === 100);
      expect(texts(got)).not.toEqual(sent);
      expect([...texts(got)].sort()).toEqual([...sent].sort());
      expect(hub.chaos.stats()).toMatchObject({ delayed: 100, delivered: 100 });
    }));

  it('keeps the order with a constant latency', () =>
    withSeed(SEED, async () => {
      const hub = chaosHub({ latencyMs: 10 });
      const a = hub.openEndpoint('a');
      const b = hub.openEndpoint('b');
      await connect(a, b);
      const got = inbox(b);
      const sent = Array.from({ length: 100 }, (_, i) => `m${i}`);
      for (const m of sent) a.send(b.eva, m);
      await until('100 messages', () => got.length === 100);
      expect(texts(got)).toEqual(sent);
    }));
});

describe('cut', () => {
  it('reports connectionLost on both sides once; then send throws NOT_CONNECTED and a new connection works', () =>
    withSeed(SEED, async () => {
      const { hub, a, b } = await trio();
      const lostA = losses(a);
      const lostB = losses(b);
      expect(hub.chaos.cut('a', 'b')).toBe(true);
      expect(hub.chaos.cut('a', 'b')).toBe(false);
      await until('both sides to lose the connection', () => lostA.length === 1 && lostB.length === 1);
      expect(lostA).toEqual(['b']);
      expect(lostB).toEqual(['a']);
      expect(() => a.send('b', 'x')).toThrow(expect.objectContaining({ code: 'NOT_CONNECTED' }));
      expect(() => b.send('a', 'x')).toThrow(expect.objectContaining({ code: 'NOT_CONNECTED' }));
      expect(hub.chaos.stats().cut).toBe(1);
      expect(hub.chaos.cut('a', 'b')).toBe(false);
      await connect(a, b);
      const got = inbox(b);
      await flush(hub, a, b, got);
      expect(a.isConnected('c')).toBe(true);
    }));

  it('discards messages sent between the cut and its report', () =>
    withSeed(SEED, async () => {
      const { hub, a, b } = await trio();
      const got = inbox(b);
      const lostB = losses(b);
      hub.chaos.cut('b', 'a');
      a.send('b', 'into the void');
      await until('b to lose a', () => lostB.length === 1);
      expect(got).toEqual([]);
      expect(hub.chaos.statsFor('a', 'b')).toMatchObject({ sent: 1, discarded: 1, delivered: 0 });
    }));

  it('cuts the connection of the chosen message with the cut rule, replayably', () =>
    withSeed(SEED, async () => {
      const { hub, a, b } = await trio({ cut: 0.05 });
      const lostA = losses(a);
      const lostB = losses(b);
      let sent = 0;
      while (a.isConnected('b') && sent < 1000) {
        a.send('b', `m${sent}`);
        sent++;
        if (hub.chaos.stats().cut > 0) break;
      }
      await until('both sides to lose the connection', () => lostA.length === 1 && lostB.length === 1);
      const cutAt = hub.chaos.events().find((e) => e.action === 'discarded')?.seq;
      expect(cutAt).toBe(sent);
    }));
});

describe('black hole', () => {
  it('makes messages vanish both ways while the connection stays open, until it is turned off', () =>
    withSeed(SEED, async () => {
      const { hub, a, b } = await trio();
      const atA = inbox(a);
      const atB = inbox(b);
      hub.chaos.blackhole('a', 'b');
      for (let i = 0; i < 10; i++) {
        a.send('b', `ab${i}`);
        b.send('a', `ba${i}`);
      }
      expect(a.isConnected('b')).toBe(true);
      hub.chaos.blackhole('a', 'b', false);
      a.send('b', 'ab-after');
      b.send('a', 'ba-after');
      await until('the messages after the black hole', () => atA.length === 1 && atB.length === 1);
      expect(texts(atB)).toEqual(['ab-after']);
      expect(texts(atA)).toEqual(['ba-after']);
      expect(hub.chaos.stats().blackholed).toBe(20);
    }));

  it('can swallow one direction only', () =>
    withSeed(SEED, async () => {
      const { hub, a, b } = await trio();
      const atA = inbox(a);
      const atB = inbox(b);
      hub.chaos.blackhole('a', 'b', true, { oneWay: true });
      a.send('b', 'lost');
      b.send('a', 'arrives');
      await until('b → a', () => atA.length === 1);
      await flush(hub, a, b, atB);
      expect(texts(atB)).toEqual([]);
      expect(texts(atA)).toEqual(['arrives']);
    }));
});

describe('partition', () => {
  it('makes messages between the sides vanish both ways and leaves the rest alone; heal() ends it', () =>
    withSeed(SEED, async () => {
      const { hub, a, b, c } = await trio();
      await connect(b, c);
      const atA = inbox(a);
      const atB = inbox(b);
      const atC = inbox(c);
      hub.chaos.partition(['a', 'b'], ['c']);
      a.send('c', 'a→c');
      c.send('a', 'c→a');
      c.send('b', 'c→b');
      a.send('b', 'a→b');
      await until('a → b', () => atB.length === 1);
      hub.chaos.heal();
      a.send('c', 'a→c healed');
      c.send('a', 'c→a healed');
      await until('the healed messages', () => atA.length === 1 && atC.length === 1);
      expect(texts(atB)).toEqual(['a→b']);
      expect(texts(atC)).toEqual(['a→c healed']);
      expect(texts(atA)).toEqual(['c→a healed']);
      expect(hub.chaos.stats().partitioned).toBe(3);
    }));

  it('with cut, cuts the connections between the sides and refuses new ones until healed', () =>
    withSeed(SEED, async () => {
      const { hub, a, b, c } = await trio();
      const lostA = losses(a);
      const lostC = losses(c);
      hub.chaos.partition(['a', 'b'], ['c'], { cut: true });
      await until('a and c to lose each other', () => lostA.length === 1 && lostC.length === 1);
      expect(lostA).toEqual(['c']);
      expect(lostC).toEqual(['a']);
      expect(a.isConnected('b')).toBe(true);
      expect(await a.openConnection('c')).toEqual({ status: ConnectionStatus.FAILED, targetEva: 'c', reason: 'UNAVAILABLE' });
      expect(await c.openConnection('b')).toEqual({ status: ConnectionStatus.FAILED, targetEva: 'b', reason: 'UNAVAILABLE' });
      expect(hub.chaos.stats()).toMatchObject({ cut: 1, refused: 2 });
      hub.chaos.heal();
      await connect(c, a);
      const got = inbox(a);
      await flush(hub, c, a, got);
    }));

  it('rejects sides that overlap or are empty', () => {
    const hub = chaosHub();
    expect(() => hub.chaos.partition(['a', 'b'], ['b'])).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => hub.chaos.partition([], ['b'])).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => hub.chaos.partition(['a'], 'b' as unknown as string[])).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});

describe('direction-specific rules', () => {
  it('setFor applies to one direction only', () =>
    withSeed(SEED, async () => {
      const { hub, a, b } = await trio();
      hub.chaos.setFor('a', 'b', { drop: 1 });
      const atA = inbox(a);
      a.send('b', 'dropped');
      b.send('a', 'arrives');
      await until('b → a', () => atA.length === 1);
      expect(hub.chaos.statsFor('a', 'b')).toMatchObject({ sent: 1, dropped: 1 });
      expect(hub.chaos.statsFor('b', 'a')).toMatchObject({ sent: 1, delivered: 1 });
    }));

  it('the most specific rule wins: from → to, then from → *, then * → to, then all traffic', () => {
    const hub = chaosHub({ drop: 0.1 });
    hub.chaos.setFor('*', 'b', { drop: 0.2, latencyMs: 7 });
    hub.chaos.setFor('a', '*', { drop: 0.3 });
    hub.chaos.setFor('a', 'b', { duplicate: 0.5 });
    expect(hub.chaos.rulesFor('a', 'b')).toMatchObject({ drop: 0.3, duplicate: 0.5, latencyMs: 7 });
    expect(hub.chaos.rulesFor('c', 'b')).toMatchObject({ drop: 0.2, duplicate: 0, latencyMs: 7 });
    expect(hub.chaos.rulesFor('a', 'c')).toMatchObject({ drop: 0.3, latencyMs: 0 });
    expect(hub.chaos.rulesFor('c', 'd')).toMatchObject({ drop: 0.1 });
    hub.chaos.clearFor('a', '*');
    expect(hub.chaos.rulesFor('a', 'b')).toMatchObject({ drop: 0.2, duplicate: 0.5 });
  });
});

describe('run-time changes', () => {
  it('take effect on the next message; reset() returns to a pass-through', () =>
    withSeed(SEED, async () => {
      const { hub, a, b } = await trio();
      const got = inbox(b);
      a.send('b', 'one');
      hub.chaos.set({ drop: 1 });
      a.send('b', 'gone');
      hub.chaos.set({ drop: 0, duplicate: 1 });
      a.send('b', 'two');
      hub.chaos.partition(['a'], ['b']);
      a.send('b', 'partitioned');
      hub.chaos.reset();
      a.send('b', 'three');
      await until('three', () => got.some((e) => e.message === 'three'));
      expect(texts(got)).toEqual(['one', 'two', 'two', 'three']);
    }));

  it('reject invalid rules with INVALID_ARGUMENT and keep the old ones', () => {
    const hub = chaosHub({ drop: 0.2 });
    expect(() => hub.chaos.set({ drop: 2 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => hub.chaos.set({ dorp: 0.1 } as never)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => hub.chaos.setFor('', 'b', { drop: 0.1 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => hub.chaos.blackhole('a', 'b', 'yes' as never)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(hub.chaos.rulesFor('a', 'b').drop).toBe(0.2);
  });

  it('work unbound', () =>
    withSeed(SEED, async () => {
      const { hub, a } = await trio();
      const { set, stats } = hub.chaos;
      set({ drop: 1 });
      a.send('b', 'x');
      expect(stats().dropped).toBe(1);
    }));
});

describe('event log and onEvent', () => {
  it('keeps the latest logSize events; onEvent sees every one until unsubscribed', () =>
    withSeed(SEED, async () => {
      const { hub, a, b } = await trio({ logSize: 10 });
      const seen: ChaosEvent[] = [];
      const stop = hub.chaos.onEvent((e) => seen.push(e));
      for (let i = 0; i < 100; i++) a.send('b', `m${i}`);
      stop();
      a.send('b', 'unseen');
      const log = hub.chaos.events();
      expect(log).toHaveLength(10);
      expect(log.map((e) => e.seq)).toEqual(Array.from({ length: 10 }, (_, i) => 92 + i));
      expect(seen).toHaveLength(100);
      expect(seen[0]).toMatchObject({ seq: 1, from: 'a', to: 'b', action: 'delivered' });
      expect(typeof seen[0].atMs).toBe('number');
      hub.chaos.clearStats();
      expect(hub.chaos.events()).toEqual([]);
      expect(hub.chaos.stats().sent).toBe(0);
      void b;
    }));
});
