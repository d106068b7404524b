import { describe, expect, it } from '@jest/globals';
import { VnfError } from '@vnf/core';
import { DEFAULT_RULES, validateRules } from '../src/rules';

describe('validateRules', () => {
  it('returns only the fields given, undefined ones left out', () => {
    expect(validateRules({ drop: 0.5, latencyMs: undefined, bytesPerSecond: Infinity }, 'test')).toEqual({
      drop: 0.5,
      bytesPerSecond: Infinity,
    });
  });

  it('accepts the bounds', () => {
    expect(() => validateRules({ drop: 0, duplicate: 1, reorderDistance: 1, latencyMs: 0, blackhole: false }, 'test')).not.toThrow();
  });

  it('names the rule, what it accepts and where, in INVALID_ARGUMENT', () => {
    let thrown: unknown;
    try {
      validateRules({ jitterMs: -3 }, 'chaos.set');
    } catch (err) {
      thrown = err;
    }
    expect(VnfError.is(thrown, 'INVALID_ARGUMENT')).toBe(true);
    expect((thrown as Error).message).toBe('chaos.set option "jitterMs" must be a finite number of ms >= 0; got -3.');
  });

  it('rejects unknown rules and non-objects', () => {
    expect(() => validateRules({ latency: 5 }, 'chaos.set')).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', message: 'Unknown chaos.set option "latency". Did you mean "latencyMs"?' }),
    );
    expect(() => validateRules([], 'test')).toThrow(VnfError);
    expect(() => validateRules('drop', 'test')).toThrow(VnfError);
  });

  it('has pass-through defaults', () => {
    expect(DEFAULT_RULES).toMatchObject({ drop: 0, duplicate: 0, reorder: 0, latencyMs: 0, jitterMs: 0, cut: 0, blackhole: false });
    expect(DEFAULT_RULES.bytesPerSecond).toBe(Infinity);
  });
});
