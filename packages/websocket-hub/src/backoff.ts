import { VnfError } from '@vnf/core';

/** How a socket waits between reconnect attempts. */
export interface ReconnectOptions {
  /** Delay before the first retry, ms. Default 250. */
  initialDelayMs?: number;
  /** Largest delay, ms. Default 10 000. */
  maxDelayMs?: number;
  /** Growth per failed attempt. Default 2. */
  factor?: number;
  /** Fraction of each delay drawn at random (0 = none, 1 = anywhere from 0 to the delay). Default 0.5. */
  jitter?: number;
}

export type Backoff = Required<ReconnectOptions>;

export function resolveBackoff(options: ReconnectOptions = {}): Backoff {
  const backoff: Backoff = {
    initialDelayMs: options.initialDelayMs ?? 250,
    maxDelayMs: options.maxDelayMs ?? 10_000,
    factor: options.factor ?? 2,
    jitter: options.jitter ?? 0.5,
  };
  if (!(backoff.initialDelayMs > 0) || !(backoff.maxDelayMs >= backoff.initialDelayMs)) {
    throw new VnfError('INVALID_ARGUMENT', 'reconnect.initialDelayMs must be positive and at most reconnect.maxDelayMs.');
  }
  if (!(backoff.factor >= 1)) throw new VnfError('INVALID_ARGUMENT', 'reconnect.factor must be at least 1.');
  if (!(backoff.jitter >= 0 && backoff.jitter <= 1)) throw new VnfError('INVALID_ARGUMENT', 'reconnect.jitter must be between 0 and 1.');
  return backoff;
}

/** Exponential backoff with jitter, so clients dropped together do not reconnect together. */
export function backoffDelay(attempt: number, backoff: Backoff, random: () => number = Math.random): number {
  const base = Math.min(backoff.maxDelayMs, backoff.initialDelayMs * backoff.factor ** attempt);
  return base * (1 - backoff.jitter * random());
}
