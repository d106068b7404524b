import { VnfError } from '@vnf/core';

/** Reads an optional positive-integer option, throwing INVALID_ARGUMENT (at construction) when it is not one. */
export function positiveInteger(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new VnfError('INVALID_ARGUMENT', `Option ${name} must be a positive integer; got ${String(value)}.`);
  }
  return value;
}
