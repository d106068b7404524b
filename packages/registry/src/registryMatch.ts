import { VnfError, type RegistryCondition } from '@vnf/core';
import { serializeValue } from './registryValue';

/** Largest filter or `when: { fields }`, in bytes of JSON: it is matched against every change it watches. */
export const MAX_MATCH_BYTES = 4096;

/**
 * The subset match of `when: { fields }` and of watch filters: `value` is an object holding every field of
 * `fields`, nested objects matched the same way, anything else (arrays, strings, numbers, booleans, null) equal.
 */
export function matchesFields(value: unknown, fields: Record<string, unknown>): boolean {
  if (!isPlainObject(value)) return false;
  for (const name of Object.keys(fields)) {
    if (!Object.prototype.hasOwnProperty.call(value, name)) return false;
    const want = fields[name];
    const got = value[name];
    if (isPlainObject(want) ? !matchesFields(got, want) : !jsonEqual(got, want)) return false;
  }
  return true;
}

/** Checks a filter or the fields of a condition: a plain JSON object, small. Returns a copy of it. */
export function validateFields(fields: unknown, what: string): Record<string, unknown> {
  if (!isPlainObject(fields)) {
    throw new VnfError('INVALID_ARGUMENT', `${what} must be a plain object of the fields to match, e.g. { state: 'free' }.`);
  }
  const json = serializeValue(fields, MAX_MATCH_BYTES);
  return JSON.parse(json) as Record<string, unknown>;
}

/** Checks a `when`: null (absent), { version: n } or { fields: {...} }. Returns a copy. */
export function validateCondition(when: unknown): RegistryCondition {
  if (when === null) return null;
  if (isPlainObject(when)) {
    const keys = Object.keys(when);
    if (keys.length === 1 && keys[0] === 'version') {
      const version = when.version;
      if (typeof version === 'number' && Number.isInteger(version) && version >= 1) return { version };
    }
    if (keys.length === 1 && keys[0] === 'fields') return { fields: validateFields(when.fields, 'when.fields') };
  }
  throw new VnfError(
    'INVALID_ARGUMENT',
    'when must be null (the entry is absent), { version: n } (it is at version n, n ≥ 1) or { fields: {...} } (its value contains these fields).',
  );
}

function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const other = b as unknown[];
    return a.length === other.length && a.every((item, i) => jsonEqual(item, other[i]));
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
