import { option, optionsSchema } from '@vnf/core';

/** How a socket waits between reconnect attempts. */
export interface ReconnectOptions {
  /**
   * Delay before the first retry, ms. At most `maxDelayMs`.
   * @default 250
   */
  initialDelayMs?: number;
  /**
   * Largest delay, ms.
   * @default 10000
   */
  maxDelayMs?: number;
  /**
   * Growth per failed attempt (at least 1); with several broker URLs, per failed round of them (see rotationDelay).
   * @default 2
   */
  factor?: number;
  /**
   * Fraction of each delay drawn at random (0 = none, 1 = anywhere from 0 to the delay).
   * @default 0.5
   */
  jitter?: number;
}

export type Backoff = Required<ReconnectOptions>;

/** The `reconnect` option of WebSocketFactory. */
export const RECONNECT_SCHEMA = optionsSchema(
  'reconnect',
  {
    initialDelayMs: option.number({ above: 0, default: 250 }),
    maxDelayMs: option.number({ above: 0, default: 10_000 }),
    factor: option.number({ min: 1, default: 2 }),
    jitter: option.number({ min: 0, max: 1, default: 0.5 }),
  },
  { check: (b) => (b.initialDelayMs <= b.maxDelayMs ? undefined : `initialDelayMs (${b.initialDelayMs}) must be at most maxDelayMs (${b.maxDelayMs}).`) },
);

/** Exponential backoff with jitter, so clients dropped together do not reconnect together. */
export function backoffDelay(attempt: number, backoff: Backoff, random: () => number = Math.random): number {
  const base = Math.min(backoff.maxDelayMs, backoff.initialDelayMs * backoff.factor ** attempt);
  return base * (1 - backoff.jitter * random());
}

/**
 * The delay before the next attempt after `failed` failed attempts (0-based) rotating over `urlCount` broker URLs.
 * The backoff grows once per full round: every URL is tried at the current step before the delay doubles, so a dead
 * broker in the list does not slow the failover to a live one. Each attempt still waits its jittered delay, so the
 * clients of a broker that died do not all land on the next one at once. With one URL a round is one attempt.
 */
export function rotationDelay(failed: number, urlCount: number, backoff: Backoff, random: () => number = Math.random): number {
  return backoffDelay(Math.floor(failed / Math.max(1, urlCount)), backoff, random);
}
