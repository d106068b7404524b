import { VnfError } from './errors';

/** Longest eva accepted, in characters. Keeps broker routing tables and frames bounded. */
export const MAX_EVA_LENGTH = 256;

/** Throws INVALID_ARGUMENT unless `eva` is a non-empty string of at most MAX_EVA_LENGTH characters. */
export function validateEva(eva: unknown, what = 'eva'): asserts eva is string {
  if (typeof eva !== 'string' || eva.length === 0 || eva.length > MAX_EVA_LENGTH) {
    throw new VnfError(
      'INVALID_ARGUMENT',
      `${what} must be a non-empty string of at most ${MAX_EVA_LENGTH} characters; got ${describe(eva)}.`,
    );
  }
}

function describe(v: unknown): string {
  if (typeof v === 'string') return v.length === 0 ? 'an empty string' : `a string of ${v.length} characters`;
  return v === null ? 'null' : typeof v;
}
