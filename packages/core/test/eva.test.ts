import { afterEach, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { MAX_EVA_LENGTH, VnfError, validateEva } from '../src';

function thrown(fn: () => unknown): VnfError {
  try {
    fn();
  } catch (err) {
    if (VnfError.is(err)) return err;
    throw err;
  }
  throw new Error('expected a VnfError');
}

const LONE = ['x\uD800', '\uDC00', '\uD800\uD800', 'a\uDBFFb', 'ok\uDFFF', '\uDE00\uD83D', '😀\uD83D'];
const WELL_FORMED = ['a', '😀', '\uFEFFcarol', 'é€𝄞', 'x'.repeat(MAX_EVA_LENGTH), '\uD83D\uDE00\uD800\uDC00'];

describe('validateEva', () => {
  const native = Object.getOwnPropertyDescriptor(String.prototype, 'isWellFormed');
  afterEach(() => {
    if (native) Object.defineProperty(String.prototype, 'isWellFormed', native);
  });

  it('accepts non-empty strings of at most MAX_EVA_LENGTH UTF-16 units, a leading BOM included', () => {
    for (const eva of WELL_FORMED) expect(() => validateEva(eva)).not.toThrow();
  });

  it('refuses what is not a non-empty string of at most MAX_EVA_LENGTH units with INVALID_ARGUMENT', () => {
    for (const bad of ['', 'x'.repeat(MAX_EVA_LENGTH + 1), 1, null, undefined, {}]) {
      expect(thrown(() => validateEva(bad)).code).toBe('INVALID_ARGUMENT');
    }
  });

  it('refuses lone surrogates: UTF-8 would turn them into U+FFFD, the name of another eva', () => {
    for (const eva of LONE) {
      const error = thrown(() => validateEva(eva, 'targetEva'));
      expect(error.code).toBe('INVALID_ARGUMENT');
      expect(error.message).toMatch(/^targetEva must be well-formed UTF-16/);
      expect(error.message).toContain('lone surrogate');
    }
    expect(thrown(() => validateEva('ab\uDC00')).message).toContain('U+DC00 at index 2');
  });

  it('gives the same answers without String.prototype.isWellFormed (engines before ES2024)', () => {
    // Only where the engine has it; Node 20 does.
    expect(native).toBeDefined();
    delete (String.prototype as { isWellFormed?: unknown }).isWellFormed;
    expect((String.prototype as { isWellFormed?: unknown }).isWellFormed).toBeUndefined();
    for (const eva of WELL_FORMED) expect(() => validateEva(eva)).not.toThrow();
    for (const eva of LONE) expect(thrown(() => validateEva(eva)).code).toBe('INVALID_ARGUMENT');
  });

  it('without isWellFormed, agrees with it on any sequence of UTF-16 units', () => {
    const isWellFormed = native!.value as (this: string) => boolean;
    delete (String.prototype as { isWellFormed?: unknown }).isWellFormed;
    const unit = fc.constantFrom(0x61, 0xe9, 0xfeff, 0xfffd, 0xd7ff, 0xd800, 0xdbff, 0xdc00, 0xdfff, 0xe000, 0xd83d, 0xde00);
    fc.assert(
      fc.property(fc.array(unit, { minLength: 1, maxLength: 12 }), (units) => {
        const eva = String.fromCharCode(...units);
        let accepted = true;
        try {
          validateEva(eva);
        } catch {
          accepted = false;
        }
        expect(accepted).toBe(isWellFormed.call(eva));
      }),
      { numRuns: 2000 },
    );
  });
});
