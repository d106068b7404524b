import { VnfError } from './errors';

/**
 * One option of an options schema: what it accepts, its default and its former names. Build one with the kinds of
 * `option` (`option.integer({ min: 1, default: 64 })`); the schema reads `hasDefault` to type the resolved value.
 */
export interface OptionSpec<T, HasDefault extends boolean = boolean> {
  /** What the option accepts, as error messages say it: `an integer from 1 to 65536`. */
  readonly expected: string;
  /** True when the option has a default, so its resolved value is never `undefined`. */
  readonly hasDefault: HasDefault;
  /** Former names, still accepted (with a deprecation warning) for one release. */
  readonly renamedFrom: readonly string[];
  /** The value of an omitted option: its default, or `undefined`. */
  fallback(owner: string, path: string): T | undefined;
  /** Checks a given value and returns the value to use; throws INVALID_ARGUMENT naming `owner` and `path`. */
  parse(value: unknown, owner: string, path: string): T;
}

/** The options of a schema, by name. */
export type OptionFields = Record<string, OptionSpec<unknown, boolean>>;

/** The options after defaults were filled in: each option with a default is always set. */
export type ResolvedOptions<F extends OptionFields> = {
  readonly [K in keyof F]: F[K] extends OptionSpec<infer T, infer D> ? (D extends true ? T : T | undefined) : never;
};

/** Rules of a whole options object, beyond each option's own. */
export interface SchemaRules<F extends OptionFields, R> {
  /**
   * Builds the result of `resolve` from the checked options: fills in defaults that depend on other options, and
   * computes derived settings. Default: the checked options themselves.
   */
  derive?: (resolved: ResolvedOptions<F>) => R;
  /** Cross-option rules: returns what is wrong (the schema throws INVALID_ARGUMENT with it), or `undefined`. */
  check?: (result: R) => string | undefined;
}

/** A declarative options schema: `optionsSchema('MarshallerHub', { maxMessageSize: option.integer({ min: 1, default: 1024 }) })`. */
export interface OptionsSchema<F extends OptionFields, R = ResolvedOptions<F>> {
  /** The class the options belong to, as messages name it. */
  readonly name: string;
  readonly fields: F;
  /**
   * Checks `options` (an object, or `undefined` for none) and returns them with defaults filled in. Throws
   * INVALID_ARGUMENT for a value of the wrong type or range, an unknown key (naming the nearest valid one), an option
   * given under both its name and its deprecated name, or a broken cross-option rule. A key set to `undefined` takes
   * its default; a deprecated name warns once per process.
   */
  resolve(options: unknown): R;
  /**
   * Checks `options` like `resolve` but returns only the options given (no defaults, no `derive`, no `check`): for
   * changes applied over current values. `where` names the call in messages instead of the class (`chaos.set`).
   */
  resolvePartial(options: unknown, where?: string): Partial<ResolvedOptions<F>>;
  /** An INVALID_ARGUMENT error in this schema's words, for rules checked outside it. */
  invalid(message: string): VnfError;
}

/** What every kind of option takes. */
export interface OptionBase<T> {
  /** The value of the option when it is omitted or `undefined`. Without one the resolved value may be `undefined`. */
  default?: T;
  /** The option's former name (or names): still accepted for one release, with a deprecation warning. */
  renamedFrom?: string | readonly string[];
  /** Says what the option accepts in messages, instead of the generated text. */
  expected?: string;
}

export interface IntegerOption extends OptionBase<number> {
  min?: number;
  max?: number;
  /** `0` lifts the limit: it resolves to `Infinity` (a default of 0 too). */
  zeroMeansNoLimit?: boolean;
}

export interface NumberOption extends OptionBase<number> {
  /** Smallest value accepted. */
  min?: number;
  /** The value must be greater than this (`above: 0`: positive). */
  above?: number;
  /** Largest value accepted. */
  max?: number;
  /** Whether `Infinity` is accepted. Default false. */
  allowInfinity?: boolean;
}

export interface StringOption extends OptionBase<string> {
  /** Refuse the empty string. Default false. */
  nonEmpty?: boolean;
}

export interface ObjectOption<T> extends OptionBase<T> {
  /** True when the object is acceptable; say what passes in `expected`. */
  check?: (value: T) => boolean;
}

export interface CustomOption<T> extends OptionBase<T> {
  /** True when `value` is acceptable. */
  check: (value: unknown) => boolean;
  expected: string;
}

type WithDefault<S, T> = S & { default: T };
type Primitive = string | number | boolean;

/** A safe integer, optionally within `min`…`max`; with `zeroMeansNoLimit`, 0 resolves to Infinity. */
function integer(spec: WithDefault<IntegerOption, number>): OptionSpec<number, true>;
function integer(spec?: IntegerOption): OptionSpec<number, false>;
function integer(spec: IntegerOption = {}): OptionSpec<number> {
  const { min, max, zeroMeansNoLimit = false } = spec;
  const expected = spec.expected ?? `an integer${range(min, undefined, max)}${zeroMeansNoLimit ? ', or 0 for no limit' : ''}`;
  return kind(spec, expected, (value) => {
    if (zeroMeansNoLimit && value === 0) return Infinity;
    return Number.isSafeInteger(value) && within(value as number, min, undefined, max) ? (value as number) : INVALID;
  });
}

/** A number (never NaN; finite unless `allowInfinity`), optionally bounded by `min`, `above` and `max`. */
function number(spec: WithDefault<NumberOption, number>): OptionSpec<number, true>;
function number(spec?: NumberOption): OptionSpec<number, false>;
function number(spec: NumberOption = {}): OptionSpec<number> {
  const { min, above, max, allowInfinity = false } = spec;
  const expected =
    spec.expected ?? `${allowInfinity ? 'a number' : 'a finite number'}${range(min, above, max)}${allowInfinity ? ' (Infinity allowed)' : ''}`;
  return kind(spec, expected, (value) => {
    if (typeof value !== 'number' || Number.isNaN(value) || (!allowInfinity && !Number.isFinite(value))) return INVALID;
    return within(value, min, above, max) ? value : INVALID;
  });
}

function boolean(spec: WithDefault<OptionBase<boolean>, boolean>): OptionSpec<boolean, true>;
function boolean(spec?: OptionBase<boolean>): OptionSpec<boolean, false>;
function boolean(spec: OptionBase<boolean> = {}): OptionSpec<boolean> {
  return kind(spec, spec.expected ?? 'true or false', (value) => (typeof value === 'boolean' ? value : INVALID));
}

function string(spec: WithDefault<StringOption, string>): OptionSpec<string, true>;
function string(spec?: StringOption): OptionSpec<string, false>;
function string(spec: StringOption = {}): OptionSpec<string> {
  const nonEmpty = spec.nonEmpty ?? false;
  const expected = spec.expected ?? (nonEmpty ? 'a non-empty string' : 'a string');
  return kind(spec, expected, (value) => (typeof value === 'string' && !(nonEmpty && value === '') ? value : INVALID));
}

/** One of `values` (compared with `===`). */
function oneOf<const V extends readonly Primitive[]>(values: V, spec: WithDefault<OptionBase<V[number]>, V[number]>): OptionSpec<V[number], true>;
function oneOf<const V extends readonly Primitive[]>(values: V, spec?: OptionBase<V[number]>): OptionSpec<V[number], false>;
function oneOf<const V extends readonly Primitive[]>(values: V, spec: OptionBase<V[number]> = {}): OptionSpec<V[number]> {
  const expected = spec.expected ?? `one of ${values.map((v) => JSON.stringify(v)).join(', ')}`;
  return kind(spec, expected, (value) => (values.includes(value as V[number]) ? (value as V[number]) : INVALID));
}

/** A function; its type is the type argument: `option.function<(error: VnfError) => void>()`. */
function fn<T extends (...args: never[]) => unknown>(spec: WithDefault<OptionBase<T>, T>): OptionSpec<T, true>;
function fn<T extends (...args: never[]) => unknown>(spec?: OptionBase<T>): OptionSpec<T, false>;
function fn<T extends (...args: never[]) => unknown>(spec: OptionBase<T> = {}): OptionSpec<T> {
  return kind(spec, spec.expected ?? 'a function', (value) => (typeof value === 'function' ? (value as T) : INVALID));
}

/** An object (not null, not an array) that passes `check`; its type is the type argument. */
function object<T extends object>(spec: WithDefault<ObjectOption<T>, T>): OptionSpec<T, true>;
function object<T extends object>(spec?: ObjectOption<T>): OptionSpec<T, false>;
function object<T extends object>(spec: ObjectOption<T> = {}): OptionSpec<T> {
  const check = spec.check;
  return kind(spec, spec.expected ?? 'an object', (value) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return INVALID;
    return check === undefined || check(value as T) ? (value as T) : INVALID;
  });
}

/** Any value that passes `check` (arrays, unions, …); its type is the type argument. */
function custom<T>(spec: WithDefault<CustomOption<T>, T>): OptionSpec<T, true>;
function custom<T>(spec: CustomOption<T>): OptionSpec<T, false>;
function custom<T>(spec: CustomOption<T>): OptionSpec<T> {
  return kind(spec, spec.expected, (value) => (spec.check(value) ? (value as T) : INVALID));
}

/**
 * An options object of its own, checked by `schema` (its keys named `outer.inner` in messages). Omitted or
 * `undefined`, it resolves to the schema's defaults.
 */
function nested<F extends OptionFields, R>(schema: OptionsSchema<F, R>, spec: Pick<OptionBase<never>, 'renamedFrom'> = {}): OptionSpec<R, true> {
  const impl = schema as SchemaImpl<F, R>;
  return {
    expected: 'an object',
    hasDefault: true,
    renamedFrom: names(spec.renamedFrom),
    fallback: (owner, path) => impl.resolveAt({}, owner, `${path}.`),
    parse: (value, owner, path) => {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidValue(owner, path, 'an object', value);
      return impl.resolveAt(value, owner, `${path}.`);
    },
  };
}

/** The kinds of option a schema is made of: `option.integer({ min: 1, default: 64 })`. */
export const option = { integer, number, boolean, string, enum: oneOf, function: fn, object, custom, nested };

/**
 * A declarative options schema for the constructor of `name`. Each option's type in the result is inferred from
 * its kind; `rules.derive` builds a derived result and `rules.check` states rules across options. A schema whose
 * limits depend on constructor arguments (the inner hub's frame size) can be built in the constructor.
 */
export function optionsSchema<F extends OptionFields, R = ResolvedOptions<F>>(
  name: string,
  fields: F,
  rules: SchemaRules<F, R> = {},
): OptionsSchema<F, R> {
  return new SchemaImpl(name, fields, rules);
}

const INVALID: unique symbol = Symbol('invalid');

/** Deprecated names warned about in this process (`owner.name`): each warns once. */
const warned = new Set<string>();

class SchemaImpl<F extends OptionFields, R> implements OptionsSchema<F, R> {
  /** Every valid key, current and deprecated, with the current name it stands for. */
  private readonly keys = new Map<string, string>();

  constructor(
    readonly name: string,
    readonly fields: F,
    private readonly rules: SchemaRules<F, R>,
  ) {
    for (const [key, spec] of Object.entries(fields)) {
      this.keys.set(key, key);
      for (const old of spec.renamedFrom) this.keys.set(old, key);
    }
  }

  resolve(options: unknown): R {
    return this.resolveAt(options, this.name, '');
  }

  resolvePartial(options: unknown, where: string = this.name): Partial<ResolvedOptions<F>> {
    return this.read(options, where, '', true) as Partial<ResolvedOptions<F>>;
  }

  invalid(message: string): VnfError {
    return new VnfError('INVALID_ARGUMENT', `${this.name}: ${message}`);
  }

  resolveAt(options: unknown, owner: string, prefix: string): R {
    const resolved = this.read(options, owner, prefix, false) as ResolvedOptions<F>;
    const result = this.rules.derive ? this.rules.derive(resolved) : (resolved as unknown as R);
    const problem = this.rules.check?.(result);
    if (problem !== undefined) {
      const where = prefix === '' ? owner : `${owner} option "${prefix.slice(0, -1)}"`;
      throw new VnfError('INVALID_ARGUMENT', `${where}: ${problem}`);
    }
    return result;
  }

  private read(options: unknown, owner: string, prefix: string, partial: boolean): Record<string, unknown> {
    const given = options === undefined ? {} : options;
    if (typeof given !== 'object' || given === null || Array.isArray(given)) {
      throw new VnfError('INVALID_ARGUMENT', `${owner} options must be an object (or omitted); got ${describeValue(given)}.`);
    }
    const values = given as Record<string, unknown>;
    for (const key of Object.keys(values)) {
      if (!this.keys.has(key)) throw this.unknownKey(owner, prefix, key);
    }
    const out: Record<string, unknown> = {};
    for (const [key, spec] of Object.entries(this.fields)) {
      let value = values[key];
      let from = key;
      for (const old of spec.renamedFrom) {
        if (values[old] === undefined) continue;
        if (value !== undefined) {
          throw new VnfError(
            'INVALID_ARGUMENT',
            `${owner} options "${prefix}${old}" and "${prefix}${key}" are the same option ("${prefix}${old}" is its deprecated name): give only "${prefix}${key}".`,
            { details: { option: prefix + key, deprecated: prefix + old } },
          );
        }
        warnDeprecated(owner, prefix + old, prefix + key);
        value = values[old];
        from = old;
      }
      if (value !== undefined) out[key] = spec.parse(value, owner, prefix + from);
      else if (!partial) out[key] = spec.fallback(owner, prefix + key);
    }
    return out;
  }

  private unknownKey(owner: string, prefix: string, key: string): VnfError {
    const near = nearest(key, [...this.keys.keys()]);
    const hint = near
      ? `Did you mean "${prefix}${this.keys.get(near)}"?`
      : `Valid options: ${Object.keys(this.fields).map((k) => prefix + k).join(', ')}.`;
    return new VnfError('INVALID_ARGUMENT', `Unknown ${owner} option "${prefix}${key}". ${hint}`, {
      details: { option: prefix + key, ...(near ? { suggestion: prefix + this.keys.get(near) } : {}) },
    });
  }
}

function kind<T>(spec: OptionBase<T>, expected: string, accept: (value: unknown) => T | typeof INVALID): OptionSpec<T> {
  // Defaults go through the same conversion as given values (0 → Infinity), and a wrong one is a bug of the schema.
  const fallback = spec.default === undefined ? undefined : accept(spec.default);
  if (fallback === INVALID) throw new VnfError('INTERNAL', `An option's default (${describeValue(spec.default)}) must be ${expected}.`);
  return {
    expected,
    hasDefault: fallback !== undefined,
    renamedFrom: names(spec.renamedFrom),
    fallback: () => fallback,
    parse: (value, owner, path) => {
      const accepted = accept(value);
      if (accepted === INVALID) throw invalidValue(owner, path, expected, value);
      return accepted;
    },
  };
}

function names(renamedFrom: string | readonly string[] | undefined): readonly string[] {
  if (renamedFrom === undefined) return [];
  return typeof renamedFrom === 'string' ? [renamedFrom] : renamedFrom;
}

function invalidValue(owner: string, path: string, expected: string, value: unknown): VnfError {
  return new VnfError('INVALID_ARGUMENT', `${owner} option "${path}" must be ${expected}; got ${describeValue(value)}.`, {
    details: { option: path },
  });
}

function range(min: number | undefined, above: number | undefined, max: number | undefined): string {
  if (min !== undefined && max !== undefined) return ` from ${min} to ${max}`;
  const parts = [min !== undefined ? `>= ${min}` : '', above !== undefined ? `> ${above}` : '', max !== undefined ? `<= ${max}` : ''];
  const text = parts.filter((p) => p !== '').join(' and ');
  return text === '' ? '' : ` ${text}`;
}

function within(value: number, min: number | undefined, above: number | undefined, max: number | undefined): boolean {
  return (min === undefined || value >= min) && (above === undefined || value > above) && (max === undefined || value <= max);
}

/** A given value as a message shows it: numbers and booleans as they are, strings quoted, objects by kind. */
function describeValue(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
    case 'number':
      return Object.is(value, -0) ? '-0' : String(value);
    case 'bigint':
      return `${value}n`;
    case 'boolean':
    case 'undefined':
      return String(value);
    case 'function':
      return 'a function';
    case 'symbol':
      return 'a symbol';
    default:
      if (value === null) return 'null';
      return Array.isArray(value) ? 'an array' : 'an object';
  }
}

function warnDeprecated(owner: string, old: string, current: string): void {
  const key = `${owner}.${old}`;
  if (warned.has(key)) return;
  warned.add(key);
  const message = `${owner} option "${old}" is deprecated: rename it to "${current}". The old name stops working in the next release.`;
  if (typeof process !== 'undefined' && typeof process.emitWarning === 'function') process.emitWarning(message, 'DeprecationWarning');
  // Browsers have no process warnings: one console line per name is the closest.
  else console.warn(message);
}

/**
 * The candidate nearest to `key` (case-insensitive edit distance), if near enough to be a typo of it or if one
 * contains the other (`dropRate` for `drop`, `lowWaterMarkBytes` for `lowWaterMark`).
 */
function nearest(key: string, candidates: string[]): string | undefined {
  const lower = key.toLowerCase();
  const limit = Math.max(2, Math.floor(key.length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const other = candidate.toLowerCase();
    const d = editDistance(lower, other);
    const contained = Math.min(lower.length, other.length) >= 3 && (lower.includes(other) || other.includes(lower));
    if ((d <= limit || contained) && d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** Levenshtein distance with adjacent transpositions counted as one edit (optimal string alignment). */
function editDistance(a: string, b: string): number {
  let before: number[] = [];
  let previous: number[] = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      let d = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, before[j - 2]! + 1);
      current.push(d);
    }
    before = previous;
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * The drain marks of a decorator with a buffer of its own over `inner` (docs/design.md, Backpressure): its
 * lowWaterMark must be at least the inner hub's highWaterMark, or a buffer that the inner layer holds below its own
 * high mark — and so never drains for — could keep the decorator above its low mark with no event left to tell it.
 * Omitted marks default to `defaults`, raised to the inner hub's where needed. Throws INVALID_ARGUMENT.
 */
export function waterMarksOver(
  owner: string,
  inner: { highWaterMark: number; lowWaterMark: number },
  given: { highWaterMark?: number; lowWaterMark?: number },
  defaults: { highWaterMark: number; lowWaterMark: number },
): { highWaterMark: number; lowWaterMark: number } {
  const floor = Number.isFinite(inner.highWaterMark) ? inner.highWaterMark : 0;
  const wantedLow = given.highWaterMark === undefined ? defaults.lowWaterMark : Math.min(defaults.lowWaterMark, given.highWaterMark / 2);
  const lowWaterMark = given.lowWaterMark ?? Math.max(wantedLow, floor);
  const highWaterMark = given.highWaterMark ?? Math.max(defaults.highWaterMark, lowWaterMark * 2);
  if (lowWaterMark < floor) {
    throw new VnfError(
      'INVALID_ARGUMENT',
      `${owner}: lowWaterMark (${lowWaterMark}) must be at least the inner hub's highWaterMark (${floor}): raise it, or lower the inner hub's marks.`,
    );
  }
  if (!(lowWaterMark < highWaterMark)) {
    throw new VnfError('INVALID_ARGUMENT', `${owner}: lowWaterMark (${lowWaterMark}) must be below highWaterMark (${highWaterMark}).`);
  }
  return { highWaterMark, lowWaterMark };
}
