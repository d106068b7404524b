import { afterAll, afterEach, describe, expect, it, jest } from '@jest/globals';
import { VnfError, option, optionsSchema } from '../src';

function thrown(fn: () => unknown): VnfError {
  try {
    fn();
  } catch (err) {
    if (VnfError.is(err)) return err;
    throw err;
  }
  throw new Error('expected a VnfError');
}

const SCHEMA = optionsSchema('MarshallerHub', {
  maxMessageSize: option.integer({ min: 1, max: 1000, default: 64 }),
  chunkSize: option.integer({ min: 64 }),
  ratio: option.number({ min: 0, max: 1, default: 0.5 }),
  timeoutMs: option.number({ above: 0, default: 100 }),
  rate: option.number({ above: 0, allowInfinity: true, default: Infinity }),
  strictOrder: option.boolean({ default: false }),
  label: option.string({ nonEmpty: true, default: 'x' }),
  relay: option.enum(['never', 'fallback'], { default: 'never' }),
  onError: option.function<(error: VnfError) => void>(),
  store: option.object<{ get(): string }>({ expected: 'an object with get()', check: (s) => typeof s.get === 'function' }),
  servers: option.custom<string[]>({ expected: 'an array of strings', check: (v) => Array.isArray(v) && v.every((s) => typeof s === 'string'), default: [] }),
  maxCalls: option.integer({ min: 1, zeroMeansNoLimit: true, default: 16 }),
});

describe('optionsSchema', () => {
  it('fills in defaults, typed from the schema; options without a default stay undefined', () => {
    const resolved = SCHEMA.resolve({});
    expect(resolved).toEqual({
      maxMessageSize: 64,
      chunkSize: undefined,
      ratio: 0.5,
      timeoutMs: 100,
      rate: Infinity,
      strictOrder: false,
      label: 'x',
      relay: 'never',
      onError: undefined,
      store: undefined,
      servers: [],
      maxCalls: 16,
    });
    const size: number = resolved.maxMessageSize;
    const chunk: number | undefined = resolved.chunkSize;
    const relay: 'never' | 'fallback' = resolved.relay;
    expect([size, chunk, relay]).toEqual([64, undefined, 'never']);
    expect(SCHEMA.resolve(undefined)).toEqual(resolved);
  });

  it('takes undefined as "use the default"', () => {
    expect(SCHEMA.resolve({ maxMessageSize: undefined, relay: undefined }).maxMessageSize).toBe(64);
  });

  it('returns the values given', () => {
    const onError = (): void => undefined;
    const store = { get: () => 'v' };
    const resolved = SCHEMA.resolve({ maxMessageSize: 1000, chunkSize: 64, ratio: 1, rate: 5, strictOrder: true, relay: 'fallback', onError, store, maxCalls: 0 });
    expect(resolved).toMatchObject({ maxMessageSize: 1000, chunkSize: 64, ratio: 1, rate: 5, strictOrder: true, relay: 'fallback', onError, store });
    expect(resolved.maxCalls).toBe(Infinity);
  });

  it('names an unknown key and the nearest valid one', () => {
    const err = thrown(() => SCHEMA.resolve({ maxMesageSize: 1 }));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toBe('Unknown MarshallerHub option "maxMesageSize". Did you mean "maxMessageSize"?');
    expect(thrown(() => SCHEMA.resolve({ strictorder: true })).message).toMatch(/Did you mean "strictOrder"\?/);
    expect(thrown(() => SCHEMA.resolve({ retlay: 'never' })).message).toMatch(/Did you mean "relay"\?/);
    expect(thrown(() => SCHEMA.resolve({ strictOrderMode: true })).message).toMatch(/Did you mean "strictOrder"\?/);
    expect(thrown(() => SCHEMA.resolve({ maxMesageSize: 1 })).details).toEqual({ option: 'maxMesageSize', suggestion: 'maxMessageSize' });
  });

  it('lists the valid options when no key is near', () => {
    const message = thrown(() => SCHEMA.resolve({ completelyDifferent: 1 })).message;
    expect(message).toMatch(/^Unknown MarshallerHub option "completelyDifferent"\. Valid options: maxMessageSize, chunkSize, /);
  });

  it.each([
    ['maxMessageSize', 0, 'an integer from 1 to 1000', '0'],
    ['maxMessageSize', 1.5, 'an integer from 1 to 1000', '1.5'],
    ['maxMessageSize', '64', 'an integer from 1 to 1000', 'the string "64"'],
    ['chunkSize', 63, 'an integer >= 64', '63'],
    ['maxCalls', -1, 'an integer >= 1, or 0 for no limit', '-1'],
    ['ratio', 2, 'a finite number from 0 to 1', '2'],
    ['ratio', NaN, 'a finite number from 0 to 1', 'NaN'],
    ['timeoutMs', 0, 'a finite number > 0', '0'],
    ['timeoutMs', Infinity, 'a finite number > 0', 'Infinity'],
    ['rate', -1, 'a number > 0 (Infinity allowed)', '-1'],
    ['strictOrder', 'yes', 'true or false', 'the string "yes"'],
    ['label', '', 'a non-empty string', 'the string ""'],
    ['label', 5, 'a non-empty string', '5'],
    ['relay', 'always', 'one of "never", "fallback"', 'the string "always"'],
    ['onError', {}, 'a function', 'an object'],
    ['store', { get: 1 }, 'an object with get()', 'an object'],
    ['store', [], 'an object with get()', 'an array'],
    ['store', null, 'an object with get()', 'null'],
    ['servers', [1], 'an array of strings', 'an array'],
  ])('refuses %s: %p with a message naming the class, the key, what it accepts and what was given', (key, value, expected, given) => {
    const err = thrown(() => SCHEMA.resolve({ [key]: value }));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toBe(`MarshallerHub option "${key}" must be ${expected}; got ${given}.`);
    expect(err.details).toEqual({ option: key });
  });

  it.each([null, [], 5, 'options', true])('refuses options that are not an object: %p', (options) => {
    const err = thrown(() => SCHEMA.resolve(options));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toMatch(/^MarshallerHub options must be an object \(or omitted\); got /);
  });

  it('applies cross-option rules with check, on the result of derive', () => {
    const schema = optionsSchema(
      'RtcHub',
      {
        connectTimeoutMs: option.number({ above: 0, default: 1000 }),
        iceTimeoutMs: option.number({ above: 0 }),
      },
      {
        derive: (o) => ({ ...o, iceTimeoutMs: o.iceTimeoutMs ?? o.connectTimeoutMs * 0.8 }),
        check: (o) => (o.iceTimeoutMs >= o.connectTimeoutMs ? `iceTimeoutMs (${o.iceTimeoutMs}) must be below connectTimeoutMs (${o.connectTimeoutMs}).` : undefined),
      },
    );
    const ice: number = schema.resolve({ connectTimeoutMs: 500 }).iceTimeoutMs;
    expect(ice).toBe(400);
    const err = thrown(() => schema.resolve({ iceTimeoutMs: 2000 }));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toBe('RtcHub: iceTimeoutMs (2000) must be below connectTimeoutMs (1000).');
    expect(schema.invalid('nope.').message).toBe('RtcHub: nope.');
  });

  it('checks nested options objects, naming their keys outer.inner', () => {
    const backoff = optionsSchema(
      'reconnect',
      { initialDelayMs: option.number({ above: 0, default: 250 }), factor: option.number({ min: 1, default: 2 }) },
      { check: (o) => (o.initialDelayMs > 1000 ? 'initialDelayMs must be at most 1000.' : undefined) },
    );
    const schema = optionsSchema('WebSocketFactory', { reconnect: option.nested(backoff), authToken: option.string() });
    expect(schema.resolve({}).reconnect).toEqual({ initialDelayMs: 250, factor: 2 });
    const factor: number = schema.resolve({ reconnect: { factor: 3 } }).reconnect.factor;
    expect(factor).toBe(3);
    expect(thrown(() => schema.resolve({ reconnect: { factr: 3 } })).message).toBe(
      'Unknown WebSocketFactory option "reconnect.factr". Did you mean "reconnect.factor"?',
    );
    expect(thrown(() => schema.resolve({ reconnect: { factor: 0 } })).message).toBe(
      'WebSocketFactory option "reconnect.factor" must be a finite number >= 1; got 0.',
    );
    expect(thrown(() => schema.resolve({ reconnect: 5 })).message).toBe('WebSocketFactory option "reconnect" must be an object; got 5.');
    expect(thrown(() => schema.resolve({ reconnect: { initialDelayMs: 2000 } })).message).toBe(
      'WebSocketFactory option "reconnect": initialDelayMs must be at most 1000.',
    );
  });

  it('resolvePartial returns only the options given, named after the call', () => {
    const rules = optionsSchema('UnreliableHub', { drop: option.number({ min: 0, max: 1 }), latencyMs: option.number({ min: 0, default: 0 }) });
    expect(rules.resolvePartial({ drop: 0.5, latencyMs: undefined })).toEqual({ drop: 0.5 });
    expect(thrown(() => rules.resolvePartial({ drop: 2 }, 'chaos.set')).message).toBe('chaos.set option "drop" must be a finite number from 0 to 1; got 2.');
    expect(thrown(() => rules.resolvePartial({ latency: 2 }, 'chaos.set')).message).toBe('Unknown chaos.set option "latency". Did you mean "latencyMs"?');
  });

  it('rejects a default the option itself would refuse, when the schema is built', () => {
    expect(() => option.integer({ min: 1, default: 0 })).toThrow(/default/);
  });
});

describe('deprecated option names (renamedFrom)', () => {
  const emitWarning = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
  afterEach(() => {
    emitWarning.mockClear();
  });
  afterAll(() => {
    emitWarning.mockRestore();
  });

  const schema = optionsSchema('ReliableHub', {
    lowWaterMark: option.integer({ min: 1, default: 10, renamedFrom: 'lowWaterMarkBytes' }),
    highWaterMark: option.integer({ min: 1, default: 20, renamedFrom: ['innerHighWaterMarkBytes', 'innerHighWaterMark'] }),
  });

  it('keeps the old name working and warns once per name per process', () => {
    expect(schema.resolve({ lowWaterMarkBytes: 5 }).lowWaterMark).toBe(5);
    expect(schema.resolve({ lowWaterMarkBytes: 6 }).lowWaterMark).toBe(6);
    expect(emitWarning).toHaveBeenCalledTimes(1);
    expect(emitWarning.mock.calls[0]).toEqual([
      'ReliableHub option "lowWaterMarkBytes" is deprecated: rename it to "lowWaterMark". The old name stops working in the next release.',
      'DeprecationWarning',
    ]);
    expect(schema.resolve({ innerHighWaterMarkBytes: 7 }).highWaterMark).toBe(7);
    expect(schema.resolve({ innerHighWaterMark: 8 }).highWaterMark).toBe(8);
    expect(emitWarning).toHaveBeenCalledTimes(3);
  });

  it('checks a value given under the old name and names the old name', () => {
    expect(thrown(() => schema.resolve({ lowWaterMarkBytes: 0 })).message).toBe('ReliableHub option "lowWaterMarkBytes" must be an integer >= 1; got 0.');
  });

  it('throws when both the old and the new name are given', () => {
    const err = thrown(() => schema.resolve({ lowWaterMarkBytes: 5, lowWaterMark: 5 }));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toMatch(/"lowWaterMarkBytes" and "lowWaterMark" are the same option .*give only "lowWaterMark"/);
    expect(schema.resolve({ lowWaterMarkBytes: undefined, lowWaterMark: 5 }).lowWaterMark).toBe(5);
  });

  it('suggests the new name for a misspelt old one', () => {
    expect(thrown(() => schema.resolve({ lowWaterMarkByte: 5 })).message).toMatch(/Did you mean "lowWaterMark"\?/);
  });

  it('warns with one console.warn where there is no process.emitWarning (browsers)', () => {
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    const original = process.emitWarning;
    try {
      (process as { emitWarning?: unknown }).emitWarning = undefined;
      const browserSchema = optionsSchema('InBrowserHub', { lowWaterMark: option.integer({ min: 0, default: 1, renamedFrom: 'lowWaterMarkBytes' }) });
      browserSchema.resolve({ lowWaterMarkBytes: 2 });
      browserSchema.resolve({ lowWaterMarkBytes: 3 });
      expect(warn).toHaveBeenCalledTimes(1);
      expect(warn.mock.calls[0]?.[0]).toMatch(/InBrowserHub option "lowWaterMarkBytes" is deprecated/);
    } finally {
      process.emitWarning = original;
      warn.mockRestore();
    }
  });
});
