import { VnfError, type RegistryKey, type RegistryRemoveOptions, type RegistryWatchOptions } from '@vnf/core';
import { validateKey } from './registryKey';
import { serializeValue } from './registryValue';
import type { KeyParams, ValueParams } from './registryProtocol';

/* What WebSocketRegistryClient and its collaborators (RemoteWatches, RemoteWaits) check and build before a call. */

/** Checks the key and that the value is plain JSON here, so nothing is silently changed on its way to the broker (which checks sizes). */
export function valueParams(key: RegistryKey, value: unknown): ValueParams {
  const { collection, name } = validateKey(key, Infinity);
  const json = serializeValue(value, Infinity);
  return { collection, name, value: JSON.parse(json) as unknown };
}

/** The options of write/remove checked here, so a bad one fails at the call without a round trip. */
const WRITE_OPTIONS = ['when', 'wait', 'timeoutMs', 'signal', 'will', 'retain'];
const REMOVE_OPTIONS = ['when', 'wait', 'timeoutMs', 'signal'];

export function readOptions<T extends RegistryRemoveOptions>(options: T, call: 'write' | 'remove'): T {
  if (typeof options !== 'object' || options === null) throw new VnfError('INVALID_ARGUMENT', `${call} takes an options object as its last argument.`);
  // Names checked here: the broker refuses an unknown one too, but so does a broker too old for the call.
  const known = call === 'write' ? WRITE_OPTIONS : REMOVE_OPTIONS;
  for (const name of Object.keys(options)) {
    if (!known.includes(name)) throw new VnfError('INVALID_ARGUMENT', `${call} does not take an option "${name}"; it takes ${known.join(', ')}.`);
  }
  const { signal, timeoutMs, wait } = options;
  if (signal !== undefined && (typeof signal !== 'object' || signal === null || typeof signal.addEventListener !== 'function')) {
    throw new VnfError('INVALID_ARGUMENT', `${call}: signal must be an AbortSignal.`);
  }
  if (timeoutMs !== undefined && !wait) throw new VnfError('INVALID_ARGUMENT', `${call}: timeoutMs only applies with wait: true.`);
  if (wait && !('when' in options)) throw new VnfError('INVALID_ARGUMENT', `${call}: wait needs a condition to wait for (when: null, { version } or { fields }).`);
  return options;
}

/** The options as params: what JSON carries, undefined ones left out (the broker checks shapes and unknown names). */
export function wireOptions(options: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(options)) {
    if (value === undefined) continue;
    if (name === 'will' && typeof value === 'object' && value !== null && 'value' in value) {
      out.will = { value: JSON.parse(serializeValue((value as { value: unknown }).value, Infinity)) as unknown };
    } else out[name] = value;
  }
  return out;
}

export function readWatchOptions(options: RegistryWatchOptions): RegistryWatchOptions {
  if (typeof options !== 'object' || options === null) throw new VnfError('INVALID_ARGUMENT', 'watch takes an options object { snapshot, filter } as its third argument.');
  const out: RegistryWatchOptions = {};
  for (const [name, value] of Object.entries(options)) {
    if (name !== 'snapshot' && name !== 'filter') throw new VnfError('INVALID_ARGUMENT', `watch does not take an option "${name}"; it takes snapshot and filter.`);
    if (value !== undefined) (out as Record<string, unknown>)[name] = value;
  }
  return out;
}

/** A broker before 0.2 does not know the method or option: say so, instead of its generic refusal. */
export function tooOld(err: unknown, what: string, newParams: readonly string[] = []): unknown {
  if (!VnfError.is(err)) return err;
  const unknownMethod = (err.code === 'NOT_FOUND' && err.message.includes('has no RPC method')) || (err.code === 'PROTOCOL' && err.message.includes('Unknown registry method'));
  // Only a refusal of a param this version added says the broker is old: any other is the caller's mistake.
  const unknownParam = err.code === 'INVALID_ARGUMENT' && newParams.some((param) => err.message.includes(`does not take a param "${param}"`));
  if (!unknownMethod && !unknownParam) return err;
  return new VnfError('UNSUPPORTED', `The broker is too old for ${what} (it answered: ${err.message}). Upgrade the broker to @vnf/broker 0.2 or later.`, { cause: err });
}

export function cancelledError(key: KeyParams): VnfError {
  return new VnfError('CANCELLED', `The wait to write "${key.name}" in "${key.collection}" was cancelled; nothing was written.`, {
    details: { collection: key.collection, name: key.name },
  });
}

export function entryId(key: KeyParams): string {
  return JSON.stringify([key.collection, key.name]);
}

export function restoreError(what: string, cause: unknown): VnfError {
  const code = VnfError.is(cause) ? cause.code : 'INTERNAL';
  return new VnfError(
    code,
    `After reconnecting, ${what} could not be restored (${cause instanceof Error ? cause.message : String(cause)}). ` +
      'Create it again if you still need it.',
    { cause },
  );
}
