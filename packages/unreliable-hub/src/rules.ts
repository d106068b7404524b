import { VnfError } from '@vnf/core';

/**
 * What UnreliableHub does to the messages of one directed pair (or of all traffic).
 * Every field is optional; a field left out keeps its current value (or its default).
 */
export interface ChaosRules {
  /** Probability in [0, 1] that a message is dropped. Default 0. */
  drop?: number;
  /** Probability in [0, 1] that a message is delivered twice. Default 0. */
  duplicate?: number;
  /** Probability in [0, 1] that a message is held back so later messages overtake it. Default 0. */
  reorder?: number;
  /** How many later messages overtake a held-back message (integer >= 1). Default 3. */
  reorderDistance?: number;
  /** Longest a held-back message waits for `reorderDistance` messages to overtake it, ms. Default 100. */
  reorderMaxHoldMs?: number;
  /** Base latency added to every message, ms. Default 0. */
  latencyMs?: number;
  /** Random extra latency, uniform in [0, jitterMs) ms per message; jitter reorders messages. Default 0. */
  jitterMs?: number;
  /** Bandwidth cap of the directed pair, bytes per second; messages queue behind each other. Default Infinity. */
  bytesPerSecond?: number;
  /** Probability in [0, 1] that a message kills its connection (the message is lost; both sides get connectionLost). Default 0. */
  cut?: number;
  /** Every message silently vanishes (the connection stays open). Default false. */
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

type Check = (value: unknown) => boolean;

const probability: Check = (v) => typeof v === 'number' && v >= 0 && v <= 1;
const duration: Check = (v) => typeof v === 'number' && Number.isFinite(v) && v >= 0;

const CHECKS: Record<keyof ChaosRules, [Check, string]> = {
  drop: [probability, 'a probability from 0 to 1'],
  duplicate: [probability, 'a probability from 0 to 1'],
  reorder: [probability, 'a probability from 0 to 1'],
  cut: [probability, 'a probability from 0 to 1'],
  reorderDistance: [(v) => Number.isInteger(v) && (v as number) >= 1, 'an integer >= 1'],
  reorderMaxHoldMs: [duration, 'a finite number of ms >= 0'],
  latencyMs: [duration, 'a finite number of ms >= 0'],
  jitterMs: [duration, 'a finite number of ms >= 0'],
  bytesPerSecond: [(v) => typeof v === 'number' && v > 0, 'a number of bytes per second > 0 (Infinity for no cap)'],
  blackhole: [(v) => typeof v === 'boolean', 'true or false'],
};

export const RULE_KEYS = Object.keys(CHECKS) as (keyof ChaosRules)[];

export function isRuleKey(key: string): key is keyof ChaosRules {
  return Object.prototype.hasOwnProperty.call(CHECKS, key);
}

/** Checks one rule value; throws INVALID_ARGUMENT naming the rule and what it accepts. */
export function validateRule(key: keyof ChaosRules, value: unknown, where: string): void {
  const [check, expected] = CHECKS[key];
  if (!check(value)) {
    throw new VnfError('INVALID_ARGUMENT', `${where}: ${key} must be ${expected}; got ${String(value)}.`, {
      details: { rule: key, value },
    });
  }
}

/**
 * Checks a rules object and returns a copy holding only the fields that were given.
 * Unknown keys throw too: a misspelt rule (`dropRate`) silently doing nothing would make a chaos test pass for nothing.
 */
export function validateRules(rules: unknown, where: string): ChaosRules {
  if (typeof rules !== 'object' || rules === null || Array.isArray(rules)) {
    throw new VnfError('INVALID_ARGUMENT', `${where}: rules must be an object such as { drop: 0.1 }; got ${String(rules)}.`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(rules)) {
    if (value === undefined) continue;
    if (!isRuleKey(key)) {
      throw new VnfError('INVALID_ARGUMENT', `${where}: unknown rule "${key}". Known rules: ${RULE_KEYS.join(', ')}.`);
    }
    validateRule(key, value, where);
    out[key] = value;
  }
  return out as ChaosRules;
}
