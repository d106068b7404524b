import { option, optionsSchema } from '@vnf/core';
import { RULE_FIELDS } from './rules';
import type { ChaosRules } from './rules';
import { SEED_EXPECTED, isChaosSeed, normalizeSeed, randomSeed } from './random';
import type { ChaosSeed } from './random';

/** Options of UnreliableHub: the rules of all traffic (see ChaosRules), plus the hub's own settings. */
export interface UnreliableHubOptions extends ChaosRules {
  /**
   * Seed of the chaos decisions: an integer 0…2^32−1 or a non-empty string (a decimal string means that number).
   * @default a random seed, readable as `hub.seed` so a failing run can be replayed
   */
  seed?: ChaosSeed;
  /**
   * How many events the log keeps (the latest); 0 keeps none (counters and `onEvent` still work).
   * @default 1000
   */
  logSize?: number;
  /**
   * Also apply the chaos to messages arriving from evas that are not endpoints of this hub, so wrapping one
   * side of a link disturbs both directions. Turn off when every peer has its own UnreliableHub, or the
   * chaos would be applied twice.
   * @default true
   */
  applyToIncoming?: boolean;
  /**
   * `bufferedAmount` (what this layer holds toward a peer, plus the inner endpoint's buffer) past which an endpoint
   * owes its peer a `drain`.
   * @default 65536 (64 KiB), or twice lowWaterMark when that is more
   */
  highWaterMark?: number;
  /**
   * `bufferedAmount` at or below which an owed `drain` fires; at least the inner hub's highWaterMark.
   * @default 16384 (16 KiB), or the inner hub's highWaterMark when that is more
   */
  lowWaterMark?: number;
}

export const DEFAULT_LOG_SIZE = 1000;
export const DEFAULT_LOW_WATER_MARK = 16 * 1024;
export const DEFAULT_HIGH_WATER_MARK = 64 * 1024;

export interface HubSettings {
  seed: ChaosSeed;
  rules: ChaosRules;
  logSize: number;
  applyToIncoming: boolean;
  /** As given; the hub resolves them against its inner hub's (waterMarksOver). */
  marks: { highWaterMark?: number; lowWaterMark?: number };
}

const SCHEMA = optionsSchema(
  'UnreliableHub',
  {
    seed: option.custom<ChaosSeed>({ expected: SEED_EXPECTED, check: isChaosSeed }),
    logSize: option.integer({ min: 0, default: DEFAULT_LOG_SIZE }),
    applyToIncoming: option.boolean({ default: true }),
    highWaterMark: option.number({ above: 0 }),
    lowWaterMark: option.number({ min: 0 }),
    ...RULE_FIELDS,
  },
  {
    derive: ({ seed, logSize, applyToIncoming, highWaterMark, lowWaterMark, ...rules }): HubSettings => ({
      seed: seed === undefined ? randomSeed() : normalizeSeed(seed),
      // Only the rules given: one left out must not hide its default (see ChaosEngine.rulesFor).
      rules: Object.fromEntries(Object.entries(rules).filter(([, value]) => value !== undefined)) as ChaosRules,
      logSize,
      applyToIncoming,
      marks: { highWaterMark, lowWaterMark },
    }),
  },
);

export function resolveOptions(options: unknown): HubSettings {
  return SCHEMA.resolve(options);
}
