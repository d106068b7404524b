import { callUserListener, createLogger } from '@vnf/core';
import type { ErrorEmitter } from '@vnf/core';
import { DEFAULT_RULES } from './rules';
import type { ChaosRules, ResolvedRules } from './rules';
import { draw, drawName, pairKey } from './random';
import type { ChaosSeed, PairKey } from './random';
import { EventLog } from './eventLog';
import { emptyStats } from './events';
import type { ChaosAction, ChaosEvent, ChaosStats } from './events';
import { clock } from './chaosLink';

const log = createLogger('unreliable-hub');

/** Matches every eva in `setFor(from, to, …)` and `blackhole(a, b)`. */
export const ANY = '*';

/** What the engine needs of an endpoint opened on this hub. */
export interface LocalEndpoint {
  connections(): string[];
  /** Starts cutting the connection to `peer` if there is one and it is not being cut already; true when it did. */
  cut(peer: string): boolean;
  /** Where what an `onEvent` listener throws is reported (an `error` event, LISTENER_ERROR). */
  errors: ErrorEmitter;
}

export interface Partition {
  sideA: ReadonlySet<string>;
  sideB: ReadonlySet<string>;
  cut: boolean;
}

/** What happens to one message, decided before it moves. */
export interface Decision {
  seq: number;
  outcome: 'pass' | 'dropped' | 'blackholed' | 'partitioned' | 'cut';
  /** Delay of each copy to deliver (two when duplicated), ms. */
  delays: number[];
  reorder: boolean;
  rules: ResolvedRules;
}

interface PairState {
  key: PairKey;
  seq: number;
}

/**
 * Every random decision the chaos makes, by name. A message's draw is a hash of (seed, from → to, seq, name),
 * so each is independent of the others and of which rules are on. To add a random rule, add a name here:
 * the existing draws, and so every recorded replay, stay as they were. Never rename or remove one.
 */
export const DRAWS = Object.freeze({
  cut: drawName('cut'),
  drop: drawName('drop'),
  duplicate: drawName('duplicate'),
  reorder: drawName('reorder'),
  jitter: drawName('jitter'),
  /** The jitter of the second copy of a duplicated message. */
  duplicateJitter: drawName('duplicate.jitter'),
});

export type DrawName = keyof typeof DRAWS;

/** Reports what an `onEvent` listener threw when no endpoint of this hub is concerned: rethrown on a microtask. */
const NO_ENDPOINT: ErrorEmitter = { listenerCount: () => 0, emit: () => false };

const key = (from: string, to: string): string => `${from}\u0000${to}`;

/**
 * The state of one UnreliableHub's chaos: rules, partitions, per-pair keys and sequence numbers, counters and the event log.
 * Endpoints ask it what to do with each message; the public ChaosController changes it.
 */
export class ChaosEngine {
  readonly seed: ChaosSeed;
  private readonly startedAt = clock();
  private globalRules: ChaosRules = {};
  private readonly pairRules = new Map<string, ChaosRules>();
  private readonly resolved = new Map<string, ResolvedRules>();
  private partitions: Partition[] = [];
  private readonly pairs = new Map<string, PairState>();
  private totals = emptyStats();
  private pairStats = new Map<string, ChaosStats>();
  private readonly log: EventLog;
  private readonly listeners = new Set<(event: ChaosEvent) => void>();
  private readonly local = new Map<string, LocalEndpoint>();

  constructor(seed: ChaosSeed, rules: ChaosRules, logSize: number) {
    this.seed = seed;
    this.globalRules = { ...rules };
    this.log = new EventLog(logSize);
  }

  // ---- rules ----------------------------------------------------------------------------------

  setRules(from: string, to: string, rules: ChaosRules): void {
    if (from === ANY && to === ANY) this.globalRules = { ...this.globalRules, ...rules };
    else this.pairRules.set(key(from, to), { ...this.pairRules.get(key(from, to)), ...rules });
    this.resolved.clear();
  }

  clearRules(from: string, to: string): void {
    if (from === ANY && to === ANY) this.globalRules = {};
    else this.pairRules.delete(key(from, to));
    this.resolved.clear();
  }

  /** The rules in force for from → to: defaults, then all traffic, then `* → to`, then `from → *`, then `from → to`. */
  rulesFor(from: string, to: string): ResolvedRules {
    const k = key(from, to);
    let rules = this.resolved.get(k);
    if (!rules) {
      rules = {
        ...DEFAULT_RULES,
        ...this.globalRules,
        ...this.pairRules.get(key(ANY, to)),
        ...this.pairRules.get(key(from, ANY)),
        ...this.pairRules.get(k),
      };
      this.resolved.set(k, rules);
    }
    return rules;
  }

  addPartition(partition: Partition): void {
    this.partitions.push(partition);
    if (!partition.cut) return;
    const done = new Set<string>();
    for (const [eva, endpoint] of this.local) {
      for (const peer of endpoint.connections()) {
        const pairKey = eva < peer ? key(eva, peer) : key(peer, eva);
        if (done.has(pairKey) || !this.partitionBetween(eva, peer)?.cut) continue;
        done.add(pairKey);
        this.cut(eva, peer);
      }
    }
  }

  heal(): void {
    this.partitions = [];
  }

  reset(): void {
    this.globalRules = {};
    this.pairRules.clear();
    this.resolved.clear();
    this.partitions = [];
  }

  partitionBetween(a: string, b: string): Partition | undefined {
    return this.partitions.find(
      (p) => (p.sideA.has(a) && p.sideB.has(b)) || (p.sideB.has(a) && p.sideA.has(b)),
    );
  }

  /** True when a new connection between a and b must fail: they are on two sides of a partition with `cut`. */
  refusesConnection(a: string, b: string): boolean {
    return this.partitions.some(
      (p) => p.cut && ((p.sideA.has(a) && p.sideB.has(b)) || (p.sideB.has(a) && p.sideA.has(b))),
    );
  }

  // ---- messages -------------------------------------------------------------------------------

  /**
   * Decides the fate of the next message from → to. Each random decision is its own named draw, a hash of
   * (seed, from → to, seq, draw name): a replay with the same seed decides the same, turning one rule on or off
   * does not change another rule's decisions, and adding a new kind of draw changes none of the existing ones.
   * A draw a rule does not need is not computed (it is a pure function, so skipping it changes nothing).
   */
  decide(from: string, to: string): Decision {
    const state = this.pairState(from, to);
    const seq = ++state.seq;
    const chance = (name: DrawName, probability: number): boolean =>
      probability > 0 && draw(state.key, seq, DRAWS[name]) < probability;
    const delay = (name: DrawName, rules: ResolvedRules): number =>
      rules.latencyMs + (rules.jitterMs > 0 ? rules.jitterMs * draw(state.key, seq, DRAWS[name]) : 0);
    this.count('sent', from, to);
    const rules = this.rulesFor(from, to);
    const decision: Decision = { seq, outcome: 'pass', delays: [], reorder: false, rules };
    if (this.partitionBetween(from, to)) decision.outcome = 'partitioned';
    else if (rules.blackhole) decision.outcome = 'blackholed';
    else if (chance('cut', rules.cut)) decision.outcome = 'cut';
    else if (chance('drop', rules.drop)) decision.outcome = 'dropped';
    else {
      decision.delays.push(delay('jitter', rules));
      if (chance('duplicate', rules.duplicate)) decision.delays.push(delay('duplicateJitter', rules));
      decision.reorder = chance('reorder', rules.reorder);
    }
    return decision;
  }

  record(action: ChaosAction, from: string, to: string, seq?: number): void {
    this.count(action, from, to);
    const event: ChaosEvent = seq === undefined ? { from, to, action, atMs: 0 } : { seq, from, to, action, atMs: 0 };
    event.atMs = clock() - this.startedAt;
    this.log.push(event);
    if (action !== 'delivered') log('%s %s → %s%s', action, from, to, seq === undefined ? '' : ` #${seq}`);
    if (this.listeners.size === 0) return;
    // What a listener throws becomes an `error` event (LISTENER_ERROR) on the endpoint of this hub the event
    // concerns, `from` first; with none, or no error listener, it is rethrown on a microtask. Never swallowed,
    // never thrown into the message path.
    const concerned = this.local.get(from) ?? this.local.get(to);
    const errors = concerned?.errors ?? NO_ENDPOINT;
    for (const listener of [...this.listeners]) {
      callUserListener(errors, () => listener({ ...event }), 'UnreliableHub chaos.onEvent');
    }
  }

  onEvent(listener: (event: ChaosEvent) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  stats(from?: string, to?: string): ChaosStats {
    if (from === undefined || to === undefined) return { ...this.totals };
    return { ...(this.pairStats.get(key(from, to)) ?? emptyStats()) };
  }

  events(): ChaosEvent[] {
    return this.log.toArray();
  }

  clearStats(): void {
    this.totals = emptyStats();
    this.pairStats = new Map();
    this.log.clear();
  }

  // ---- endpoints ------------------------------------------------------------------------------

  attach(eva: string, endpoint: LocalEndpoint): void {
    this.local.set(eva, endpoint);
  }

  detach(eva: string, endpoint: LocalEndpoint): void {
    if (this.local.get(eva) === endpoint) this.local.delete(eva);
  }

  /** True when `eva` is an endpoint of this hub: its outgoing messages already went through the chaos. */
  isLocal(eva: string): boolean {
    return this.local.has(eva);
  }

  /**
   * Cuts the connection between a and b on each side that is an endpoint of this hub, at once: a dropped
   * transport loses what is in flight both ways. Recorded once. False when there was nothing to cut.
   */
  cut(a: string, b: string): boolean {
    const fromA = this.local.get(a)?.cut(b) ?? false;
    const fromB = this.local.get(b)?.cut(a) ?? false;
    if (!fromA && !fromB) return false;
    this.record('cut', a, b);
    return true;
  }

  private pairState(from: string, to: string): PairState {
    const k = key(from, to);
    let state = this.pairs.get(k);
    if (!state) {
      state = { key: pairKey(this.seed, from, to), seq: 0 };
      this.pairs.set(k, state);
    }
    return state;
  }

  private count(action: ChaosAction | 'sent', from: string, to: string): void {
    this.totals[action] += 1;
    const k = key(from, to);
    let stats = this.pairStats.get(k);
    if (!stats) {
      stats = emptyStats();
      this.pairStats.set(k, stats);
    }
    stats[action] += 1;
  }
}
