import { VnfError, utf8Length } from '@vnf/core';

/**
 * Deepest nesting a value may have. Values arrive from the network; without a bound a small frame of
 * nested brackets could exhaust the stack of whoever walks it.
 */
export const MAX_VALUE_DEPTH = 64;

/**
 * Checks that `value` is plain JSON (null, booleans, finite numbers, strings, arrays and plain objects)
 * and returns it serialized. Anything JSON.stringify would silently drop or change (functions, NaN, Dates,
 * Maps, binary, undefined as the value or in an array, …) is refused, so what a reader gets back is what
 * the writer stored. Object properties set to undefined are left out, as JSON does.
 * Throws INVALID_PAYLOAD, or TOO_LARGE past `maxBytes` of UTF-8 JSON.
 */
export function serializeValue(value: unknown, maxBytes: number): string {
  assertPlainJson(value, 'value', 0, new Set());
  const json = JSON.stringify(value);
  const size = utf8Length(json);
  if (size > maxBytes) {
    throw new VnfError(
      'TOO_LARGE',
      `The registry value is ${size} bytes of JSON; the limit is ${maxBytes}. ` +
        'Store a smaller value (for example an id, and keep the data elsewhere).',
      { details: { size, limit: maxBytes } },
    );
  }
  return json;
}

function assertPlainJson(value: unknown, path: string, depth: number, ancestors: Set<object>): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (Number.isFinite(value)) return;
      throw invalid(path, `${value}, which JSON cannot carry`);
    case 'object':
      break;
    default:
      throw invalid(path, `a ${typeof value}`);
  }
  if (value === null) return;
  if (depth >= MAX_VALUE_DEPTH) throw invalid(path, `nesting deeper than ${MAX_VALUE_DEPTH} levels`);
  if (ancestors.has(value)) throw invalid(path, 'a reference to itself (a cycle)');
  ancestors.add(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) assertPlainJson(value[i], `${path}[${i}]`, depth + 1, ancestors);
  } else {
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      throw invalid(path, `an instance of ${value.constructor?.name ?? 'a class'}`);
    }
    for (const [k, v] of Object.entries(value)) {
      // Like JSON: a property set to undefined is left out (reading it back still gives undefined).
      if (v !== undefined) assertPlainJson(v, `${path}.${k}`, depth + 1, ancestors);
    }
  }
  ancestors.delete(value);
}

function invalid(path: string, what: string): VnfError {
  return new VnfError(
    'INVALID_PAYLOAD',
    `Registry values must be plain JSON (null, booleans, finite numbers, strings, arrays, plain objects); ${path} is ${what}. ` +
      'Convert it first (dates to ISO strings, binary to base64).',
    { details: { path } },
  );
}
