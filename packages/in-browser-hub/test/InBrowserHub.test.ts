import { VnfError } from '@vnf/core';
import { InBrowserHub, type InBrowserHubOptions } from '../src';

function thrown(fn: () => unknown): VnfError {
  try {
    fn();
  } catch (err) {
    if (VnfError.is(err)) return err;
    throw err;
  }
  throw new Error('expected a VnfError');
}

describe('InBrowserHub options', () => {
  it('rejects a misspelt option with INVALID_ARGUMENT naming the option meant', () => {
    const err = thrown(() => new InBrowserHub({ lowWatermark: 1 } as InBrowserHubOptions));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toBe('Unknown InBrowserHub option "lowWatermark". Did you mean "lowWaterMark"?');
  });

  it.each<[string, InBrowserHubOptions]>([
    ['a negative latencyMs', { latencyMs: -1 }],
    ['an infinite latencyMs', { latencyMs: Infinity }],
    ['maxPayloadSize 0', { maxPayloadSize: 0 }],
    ['connectTimeoutMs 0', { connectTimeoutMs: 0 }],
    ['a negative lowWaterMark', { lowWaterMark: -1 }],
  ])('rejects %s with INVALID_ARGUMENT naming it', (_name, options) => {
    const err = thrown(() => new InBrowserHub(options));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toContain(`InBrowserHub option "${Object.keys(options)[0]}"`);
  });
});
