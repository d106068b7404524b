import { VnfError } from '@vnf/core';
import { RULE_KEYS, isRuleKey, validateRules } from './rules';
import type { ChaosRules } from './rules';
import { normalizeSeed, randomSeed } from './random';
import type { ChaosSeed } from './random';

/** Options of UnreliableHub: the rules of all traffic (see ChaosRules), plus the hub's own settings. */
export interface UnreliableHubOptions extends ChaosRules {
  /**
   * Seed of the chaos decisions: an integer 0…2^32−1 or a string (a decimal string means that number).
   * Default: a random seed, readable as `hub.seed` so a failing run can be replayed.
   */
  seed?: ChaosSeed;
  /** How many events the log keeps (the latest); 0 keeps none (counters and `onEvent` still work). Default 1000. */
  logSize?: number;
  /**
   * Also apply the chaos to messages arriving from evas that are not endpoints of this hub, so wrapping one
   * side of a link disturbs both directions. Turn off when every peer has its own UnreliableHub, or the
   * chaos would be applied twice. Default true.
   */
  applyToIncoming?: boolean;
  /** `drain` fires when the bytes this layer holds toward a peer fall to this after exceeding it. Default 16384. */
  lowWaterMark?: number;
}

export const DEFAULT_LOG_SIZE = 1000;
export const DEFAULT_LOW_WATER_MARK = 16 * 1024;

export interface HubSettings {
  seed: ChaosSeed;
  rules: ChaosRules;
  logSize: number;
  applyToIncoming: boolean;
  lowWaterMark: number;
}

const HUB_KEYS = ['seed', 'logSize', 'applyToIncoming', 'lowWaterMark'];

export function resolveOptions(options: unknown): HubSettings {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new VnfError('INVALID_ARGUMENT', 'UnreliableHub options must be an object such as { seed: 42, drop: 0.1 }.');
  }
  const rules: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    if (isRuleKey(key)) rules[key] = value;
    else if (!HUB_KEYS.includes(key)) {
      throw new VnfError(
        'INVALID_ARGUMENT',
        `UnreliableHub: unknown option "${key}". Options: ${[...HUB_KEYS, ...RULE_KEYS].join(', ')}.`,
      );
    }
  }
  const { seed, logSize = DEFAULT_LOG_SIZE, applyToIncoming = true, lowWaterMark = DEFAULT_LOW_WATER_MARK } = options as UnreliableHubOptions;
  if (!Number.isInteger(logSize) || logSize < 0) {
    throw new VnfError('INVALID_ARGUMENT', `UnreliableHub: logSize must be an integer >= 0; got ${String(logSize)}.`);
  }
  if (typeof applyToIncoming !== 'boolean') {
    throw new VnfError('INVALID_ARGUMENT', `UnreliableHub: applyToIncoming must be true or false; got ${String(applyToIncoming)}.`);
  }
  if (typeof lowWaterMark !== 'number' || !(lowWaterMark >= 0)) {
    throw new VnfError('INVALID_ARGUMENT', `UnreliableHub: lowWaterMark must be a number of bytes >= 0; got ${String(lowWaterMark)}.`);
  }
  return {
    seed: seed === undefined ? randomSeed() : normalizeSeed(seed),
    rules: validateRules(rules, 'UnreliableHub'),
    logSize,
    applyToIncoming,
    lowWaterMark,
  };
}
