import { VnfError } from './errors';
import { describeLoneSurrogate, isWellFormedString } from './payload';

/** Longest eva accepted, in characters. Keeps broker routing tables and frames bounded. */
export const MAX_EVA_LENGTH = 256;

/**
 * Throws INVALID_ARGUMENT unless `eva` is a non-empty, well-formed string of at most MAX_EVA_LENGTH characters.
 * Well-formed (no lone surrogate), because evas travel as UTF-8, where a lone surrogate becomes U+FFFD: "x\uD800"
 * would arrive as "x\uFFFD", the name of another eva.
 */
export function validateEva(eva: unknown, what = 'eva'): asserts eva is string {
  if (typeof eva !== 'string' || eva.length === 0 || eva.length > MAX_EVA_LENGTH) {
    throw new VnfError(
      'INVALID_ARGUMENT',
      `${what} must be a non-empty string of at most ${MAX_EVA_LENGTH} characters; got ${describe(eva)}.`,
    );
  }
  if (!isWellFormedString(eva)) {
    throw new VnfError(
      'INVALID_ARGUMENT',
      `${what} must be well-formed UTF-16, without a lone surrogate; got one (${describeLoneSurrogate(eva)}). ` +
        'On the wire it would become U+FFFD and name another eva: use a string whose surrogates come in pairs.',
    );
  }
}

function describe(v: unknown): string {
  if (typeof v === 'string') return v.length === 0 ? 'an empty string' : `a string of ${v.length} characters`;
  return v === null ? 'null' : typeof v;
}
