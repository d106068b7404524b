import { afterEach, describe, expect, it } from '@jest/globals';
import { DecoratorEndpoint, DecoratorHub, type Endpoint, type EndpointOptions, type MessageEvent } from '@vnf/core';
import { InBrowserHub } from '@vnf/in-browser-hub';
import { UnreliableHub } from '../src';
import type { ChaosEvent, UnreliableHubOptions } from '../src';
import { SEED, closeAll, connect, inbox, track, until, withSeed, withoutTimes } from './helpers';

afterEach(closeAll);

/** A pass-through hub beneath UnreliableHub that logs the multicasts it is asked to carry. */
class SpyHub extends DecoratorHub {
  readonly multicasts: { from: string; targets: string[]; message: unknown }[] = [];

  protected override wrapEndpoint(inner: Endpoint, options: EndpointOptions): Endpoint {
    const spy = this;
    return new (class extends DecoratorEndpoint {
      override multicast(targets: readonly string[], message: unknown): void {
        spy.multicasts.push({ from: this.eva, targets: [...targets], message });
        super.multicast(targets, message);
      }
    })(inner, options);
  }
}

/** a, connected to each of `targets`, on a fresh hub. */
async function star(hub: UnreliableHub, targets: string[]): Promise<{ a: Endpoint; peers: Endpoint[]; got: MessageEvent[][] }> {
  const a = hub.openEndpoint('a');
  const peers = targets.map((eva) => hub.openEndpoint(eva));
  const got = peers.map((peer) => inbox(peer));
  for (const peer of peers) await connect(a, peer);
  return { a, peers, got };
}

/** Waits until `a` holds nothing toward any peer, in this layer or beneath: every copy was handed on or discarded. */
function settled(a: Endpoint, peers: Endpoint[]): Promise<void> {
  return until('every held copy handed on', () => peers.every((peer) => a.bufferedAmount(peer.eva) === 0));
}

const messageEvents = (events: ChaosEvent[], to: string): Omit<ChaosEvent, 'atMs'>[] =>
  withoutTimes(events.filter((e) => e.from === 'a' && e.to === to && e.seq !== undefined));

describe('UnreliableEndpoint multicast', () => {
  it('meets, for each target, exactly the chaos a send to it would: the same decisions, events and deliveries (seeded)', async () => {
    const rules: UnreliableHubOptions = { seed: SEED, drop: 0.2, duplicate: 0.2, reorder: 0.2, reorderMaxHoldMs: 20 };
    await withSeed(SEED, async () => {
      const viaMulticast = track(new UnreliableHub(new InBrowserHub(), rules));
      const viaSends = track(new UnreliableHub(new InBrowserHub(), rules));
      const targets = ['b', 'c', 'd'];
      const m = await star(viaMulticast, targets);
      const s = await star(viaSends, targets);
      for (let i = 0; i < 60; i++) {
        m.a.multicast(targets, `m${i}`);
        for (const target of targets) s.a.send(target, `m${i}`);
      }
      await settled(m.a, m.peers);
      await settled(s.a, s.peers);
      // The decisions are the seed's; when a held copy's timer fires among the others' is the machine's, so the events
      // are compared per message, not in the order two timers a millisecond apart happened to fire.
      const bySeq = (events: Omit<ChaosEvent, 'atMs'>[]): Omit<ChaosEvent, 'atMs'>[] =>
        [...events].sort((x, y) => (x.seq ?? 0) - (y.seq ?? 0) || x.action.localeCompare(y.action));
      for (const [i, target] of targets.entries()) {
        expect(bySeq(messageEvents(viaMulticast.chaos.events(), target))).toEqual(bySeq(messageEvents(viaSends.chaos.events(), target)));
        const received = (got: MessageEvent[][]): string[] => got[i]!.map((e) => e.message as string).sort();
        expect(received(m.got)).toEqual(received(s.got));
      }
      const stats = viaMulticast.chaos.stats();
      expect(stats).toEqual(viaSends.chaos.stats());
      // The rules did something to the group path: it is not a pass-through.
      expect(stats.dropped).toBeGreaterThan(0);
      expect(stats.duplicated).toBeGreaterThan(0);
      expect(stats.reordered).toBeGreaterThan(0);
    });
  });

  it('hands the targets the chaos lets through at once to one inner multicast, the others as their rules say', async () => {
    await withSeed(SEED, async () => {
      const spy = new SpyHub(new InBrowserHub());
      const hub = track(new UnreliableHub(spy, { seed: SEED }));
      const { a, peers, got } = await star(hub, ['b', 'c', 'd', 'e']);
      hub.chaos.setFor('a', 'c', { drop: 1 });
      hub.chaos.setFor('a', 'd', { latencyMs: 5 });
      hub.chaos.setFor('a', 'e', { duplicate: 1 });
      a.multicast(['b', 'c', 'd', 'e'], 'group');
      expect(spy.multicasts.map((call) => call.targets)).toEqual([['e'], ['e'], ['b']]);
      await settled(a, peers);
      expect(spy.multicasts.map((call) => call.targets)).toEqual([['e'], ['e'], ['b'], ['d']]);
      expect(got.map((messages) => messages.map((e) => e.message))).toEqual([['group'], [], ['group'], ['group', 'group']]);
      const actions = (to: string): string[] => messageEvents(hub.chaos.events(), to).map((e) => e.action);
      expect(actions('b')).toEqual(['delivered']);
      expect(actions('c')).toEqual(['dropped']);
      expect(actions('d')).toEqual(['delayed', 'delivered']);
      expect(actions('e')).toEqual(['duplicated', 'delivered', 'delivered']);
    });
  });

  it('holds a multicast copy in the pair\'s link with the sends to that target, in order', async () => {
    const hub = track(new UnreliableHub(new InBrowserHub(), { seed: SEED }));
    const { a, peers, got } = await star(hub, ['b', 'c']);
    hub.chaos.setFor('a', 'b', { latencyMs: 5 });
    for (let i = 0; i < 3; i++) {
      a.send('b', `sent${i}`);
      a.multicast(['b', 'c'], `group${i}`);
    }
    expect(a.bufferedAmount('b')).toBeGreaterThan(0);
    await settled(a, peers);
    expect(got[0]!.map((e) => e.message)).toEqual(['sent0', 'group0', 'sent1', 'group1', 'sent2', 'group2']);
    expect(got[1]!.map((e) => e.message)).toEqual(['group0', 'group1', 'group2']);
  });

  it('skips a target whose buffer is past highWaterMark before the chaos: it takes no decision, the others get it', async () => {
    const hub = track(new UnreliableHub(new InBrowserHub(), { seed: SEED, highWaterMark: 512 * 1024 }));
    const { a, peers, got } = await star(hub, ['b', 'c']);
    hub.chaos.setFor('a', 'b', { bytesPerSecond: 10 * 1024 * 1024 });
    a.send('b', 'x'.repeat(600 * 1024));
    expect(a.bufferedAmount('b')).toBeGreaterThan(512 * 1024);
    a.multicast(['b', 'c'], 'group');
    expect(hub.chaos.statsFor('a', 'b').sent).toBe(1);
    expect(hub.chaos.statsFor('a', 'c').sent).toBe(1);
    await settled(a, peers);
    expect(got[0]!.map((e) => (e.message as string).length)).toEqual([600 * 1024]);
    expect(got[1]!.map((e) => e.message)).toEqual(['group']);
  });
});
