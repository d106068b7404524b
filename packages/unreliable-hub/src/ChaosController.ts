import { VnfError, validateEva } from '@vnf/core';
import { ANY } from './chaosEngine';
import type { ChaosEngine } from './chaosEngine';
import { validateRules } from './rules';
import type { ChaosRules, ResolvedRules } from './rules';
import type { ChaosEvent, ChaosStats } from './events';
import type { ChaosSeed } from './random';

/** Options of `partition`. */
export interface PartitionOptions {
  /**
   * Also cut the open connections between the sides (both ends get connectionLost) and make new ones fail
   * (`FAILED`, reason `UNAVAILABLE`). Default false: connections stay open and messages between the sides vanish.
   */
  cut?: boolean;
}

/** Options of `blackhole`. */
export interface BlackholeOptions {
  /** Only messages from `a` to `b` vanish; `b` to `a` still flow. Default false (both directions). */
  oneWay?: boolean;
}

/**
 * The run-time control of an UnreliableHub (`hub.chaos`): change rules, partition and heal, cut connections,
 * and read what the hub did. Every change applies to the next message; messages already held keep their fate.
 * Methods work unbound.
 */
export class ChaosController {
  /** Matches every eva in `setFor` and `blackhole`. */
  static readonly ANY = ANY;
  private readonly engine: ChaosEngine;

  constructor(engine: ChaosEngine) {
    this.engine = engine;
    this.set = this.set.bind(this);
    this.setFor = this.setFor.bind(this);
    this.clearFor = this.clearFor.bind(this);
    this.rulesFor = this.rulesFor.bind(this);
    this.partition = this.partition.bind(this);
    this.heal = this.heal.bind(this);
    this.cut = this.cut.bind(this);
    this.blackhole = this.blackhole.bind(this);
    this.reset = this.reset.bind(this);
    this.stats = this.stats.bind(this);
    this.statsFor = this.statsFor.bind(this);
    this.events = this.events.bind(this);
    this.clearStats = this.clearStats.bind(this);
    this.onEvent = this.onEvent.bind(this);
  }

  /** The seed of this hub's chaos decisions: pass it as `seed` to replay the run. */
  get seed(): ChaosSeed {
    return this.engine.seed;
  }

  /** Changes the rules of all traffic. Fields left out keep their value. */
  set(rules: ChaosRules): void {
    this.engine.setRules(ANY, ANY, validateRules(rules, 'chaos.set'));
  }

  /**
   * Changes the rules of messages from `from` to `to` only (one direction). Either may be `'*'` (every eva).
   * Precedence, most specific first: `from → to`, `from → *`, `* → to`, all traffic. Fields left out keep their value.
   */
  setFor(from: string, to: string, rules: ChaosRules): void {
    checkEva(from, 'from');
    checkEva(to, 'to');
    this.engine.setRules(from, to, validateRules(rules, `chaos.setFor(${from}, ${to})`));
  }

  /** Removes the rules set with `setFor(from, to, …)`; `clearFor('*', '*')` clears the rules of all traffic. */
  clearFor(from: string, to: string): void {
    checkEva(from, 'from');
    checkEva(to, 'to');
    this.engine.clearRules(from, to);
  }

  /** The rules in force now for messages from `from` to `to`. */
  rulesFor(from: string, to: string): ResolvedRules {
    validateEva(from, 'from');
    validateEva(to, 'to');
    return { ...this.engine.rulesFor(from, to) };
  }

  /**
   * Splits the evas into two sides: messages between a member of `sideA` and a member of `sideB` vanish
   * (in both directions). Evas in neither side are not affected. Partitions add up until `heal()`.
   */
  partition(sideA: string[], sideB: string[], options: PartitionOptions = {}): void {
    const a = checkSide(sideA, 'sideA');
    const b = checkSide(sideB, 'sideB');
    const both = [...a].filter((eva) => b.has(eva));
    if (both.length > 0) {
      throw new VnfError('INVALID_ARGUMENT', `partition: ${both.join(', ')} cannot be on both sides. Give each eva one side.`);
    }
    if (typeof options !== 'object' || options === null || (options.cut !== undefined && typeof options.cut !== 'boolean')) {
      throw new VnfError('INVALID_ARGUMENT', 'partition: options must be an object such as { cut: true }.');
    }
    this.engine.addPartition({ sideA: a, sideB: b, cut: options.cut ?? false });
  }

  /** Removes every partition. Connections cut by a partition stay closed: open them again. */
  heal(): void {
    this.engine.heal();
  }

  /**
   * Cuts the connection between `a` and `b` as a dropped transport would: nothing more is carried on it, and
   * both ends get connectionLost (this side on a later macrotask, the peer through its transport).
   * One of them must be an endpoint of this hub. Returns false when they were not connected.
   */
  cut(a: string, b: string): boolean {
    validateEva(a, 'a');
    validateEva(b, 'b');
    return this.engine.cut(a, b);
  }

  /**
   * Makes messages between `a` and `b` silently vanish (`on` true) or flow again (`on` false); the connection
   * stays open, so the layers above see only silence and time out. Both directions unless `oneWay`. Either may be `'*'`.
   */
  blackhole(a: string, b: string, on = true, options: BlackholeOptions = {}): void {
    checkEva(a, 'a');
    checkEva(b, 'b');
    if (typeof on !== 'boolean') throw new VnfError('INVALID_ARGUMENT', `blackhole: on must be true or false; got ${String(on)}.`);
    this.engine.setRules(a, b, { blackhole: on });
    if (!options.oneWay) this.engine.setRules(b, a, { blackhole: on });
  }

  /** Back to a transparent pass-through: removes every rule (the constructor's too), black hole and partition. Counters stay. */
  reset(): void {
    this.engine.reset();
  }

  /** Counters over all traffic since the hub was created or `clearStats()`. */
  stats(): ChaosStats {
    return this.engine.stats();
  }

  /** Counters of the directed pair from → to. */
  statsFor(from: string, to: string): ChaosStats {
    return this.engine.stats(from, to);
  }

  /** The event log, oldest first: the last `logSize` things the hub did, to which message. */
  events(): ChaosEvent[] {
    return this.engine.events();
  }

  /** Zeroes the counters and empties the event log. Sequence numbers go on, and with them the decisions. */
  clearStats(): void {
    this.engine.clearStats();
  }

  /**
   * Calls `listener` with every event as it happens (whatever `logSize`). Returns the function that stops it.
   * What the listener throws becomes an `error` event (LISTENER_ERROR) on the endpoint of this hub the event
   * concerns (`from`, else `to`); with none, or no `error` listener there, it is rethrown on a microtask.
   */
  onEvent(listener: (event: ChaosEvent) => void): () => void {
    if (typeof listener !== 'function') throw new VnfError('INVALID_ARGUMENT', 'onEvent takes a function.');
    return this.engine.onEvent(listener);
  }
}

function checkEva(eva: unknown, what: string): asserts eva is string {
  if (eva !== ANY) validateEva(eva, what);
}

function checkSide(side: unknown, what: string): Set<string> {
  if (!Array.isArray(side) || side.length === 0) {
    throw new VnfError('INVALID_ARGUMENT', `partition: ${what} must be a non-empty array of evas, such as ['a', 'b'].`);
  }
  for (const eva of side) validateEva(eva, `an eva in ${what}`);
  return new Set(side as string[]);
}
