import { option, optionsSchema, type OptionSpec } from '@vnf/core';

/**
 * What UnreliableHub does to the messages of one directed pair (or of all traffic).
 * Every field is optional; a field left out keeps its current value (or its default).
 */
export interface ChaosRules {
  /**
   * Probability in [0, 1] that a message is dropped.
   * @default 0
   */
  drop?: number;
  /**
   * Probability in [0, 1] that a message is delivered twice.
   * @default 0
   */
  duplicate?: number;
  /**
   * Probability in [0, 1] that a message is held back so later messages overtake it.
   * @default 0
   */
  reorder?: number;
  /**
   * How many later messages overtake a held-back message (integer >= 1).
   * @default 3
   */
  reorderDistance?: number;
  /**
   * Longest a held-back message waits for `reorderDistance` messages to overtake it, ms.
   * @default 100
   */
  reorderMaxHoldMs?: number;
  /**
   * Base latency added to every message, ms.
   * @default 0
   */
  latencyMs?: number;
  /**
   * Random extra latency, uniform in [0, jitterMs) ms per message; jitter reorders messages.
   * @default 0
   */
  jitterMs?: number;
  /**
   * Bandwidth cap of the directed pair, bytes per second; messages queue behind each other.
   * @default Infinity (no cap)
   */
  bytesPerSecond?: number;
  /**
   * Probability in [0, 1] that a message kills its connection (the message is lost; both sides get connectionLost).
   * @default 0
   */
  cut?: number;
  /**
   * Every message silently vanishes (the connection stays open).
   * @default false
   */
  blackhole?: boolean;
}

export type ResolvedRules = Required<ChaosRules>;

/** The transparent pass-through. */
export const DEFAULT_RULES: Readonly<ResolvedRules> = Object.freeze({
  drop: 0,
  duplicate: 0,
  reorder: 0,
  reorderDistance: 3,
  reorderMaxHoldMs: 100,
  latencyMs: 0,
  jitterMs: 0,
  bytesPerSecond: Infinity,
  cut: 0,
  blackhole: false,
});

const probability = (): OptionSpec<number, false> => option.number({ min: 0, max: 1, expected: 'a probability from 0 to 1' });
const duration = (): OptionSpec<number, false> => option.number({ min: 0, expected: 'a finite number of ms >= 0' });

/** The rules as options: no defaults here, a rule left out keeps its current value (DEFAULT_RULES at first). */
export const RULE_FIELDS = {
  drop: probability(),
  duplicate: probability(),
  reorder: probability(),
  reorderDistance: option.integer({ min: 1 }),
  reorderMaxHoldMs: duration(),
  latencyMs: duration(),
  jitterMs: duration(),
  bytesPerSecond: option.number({ above: 0, allowInfinity: true, expected: 'a number of bytes per second > 0 (Infinity for no cap)' }),
  cut: probability(),
  blackhole: option.boolean(),
};

const RULES = optionsSchema('UnreliableHub', RULE_FIELDS);

/**
 * Checks a rules object and returns a copy holding only the fields that were given. `where` names the call in
 * messages. Unknown keys throw too: a misspelt rule (`dropRate`) silently doing nothing would make a chaos test
 * pass for nothing.
 */
export function validateRules(rules: unknown, where: string): ChaosRules {
  return RULES.resolvePartial(rules, where);
}
