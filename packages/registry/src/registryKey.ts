import { VnfError, type RegistryKey } from '@vnf/core';

/** Checks one part of a key (a collection or a name) against the store's length bound. */
export function validateKeyPart(value: unknown, what: 'collection' | 'name', maxLength: number): asserts value is string {
  if (typeof value !== 'string' || value.length === 0 || value.length > maxLength) {
    throw new VnfError(
      'INVALID_ARGUMENT',
      `The registry ${what} must be a non-empty string of at most ${maxLength} characters; got ${describe(value)}.`,
      { details: { what, limit: maxLength } },
    );
  }
}

/** Checks a `{ collection, name }` key and returns a fresh copy of it (the caller's object is not kept). */
export function validateKey(key: unknown, maxLength: number): RegistryKey {
  if (typeof key !== 'object' || key === null) {
    throw new VnfError('INVALID_ARGUMENT', `A registry key is an object { collection, name }; got ${describe(key)}.`);
  }
  const { collection, name } = key as Partial<RegistryKey>;
  validateKeyPart(collection, 'collection', maxLength);
  validateKeyPart(name, 'name', maxLength);
  return { collection, name };
}

function describe(v: unknown): string {
  if (typeof v === 'string') return v.length === 0 ? 'an empty string' : `a string of ${v.length} characters`;
  if (v === null) return 'null';
  return Array.isArray(v) ? 'an array' : typeof v;
}
