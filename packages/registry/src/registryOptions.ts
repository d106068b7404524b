import { Global, VnfError, type RegistryCondition, type RegistryWill, type RegistryWriteResult, type StoreRemoveOptions, type StoreWatchOptions, type StoreWriteOptions, type StoredRecord } from '@vnf/core';
import { matchesFields, validateCondition, validateFields } from './registryMatch';

/*
 * The options of the registry's new calls (write, remove, watch) as RegistryRules reads them: from any caller,
 * the broker's sessions included, so every shape is checked and unknown names refused.
 */

/** Whether `when` holds for the entry as read: undefined (no condition) always does. */
export function holds(when: RegistryCondition | undefined, current: StoredRecord | undefined): boolean {
  if (when === undefined) return true;
  if (when === null) return current === undefined;
  if (!current) return false;
  if ('version' in when) return current.version === when.version;
  return matchesFields(JSON.parse(current.json) as unknown, when.fields);
}

export function conflict(current: StoredRecord | undefined): RegistryWriteResult {
  return { status: Global.CONFLICT, version: current?.version ?? null, revision: current?.revision ?? null };
}

/** The longest timer delay: 2^31 - 1 ms. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

const WRITE_OPTIONS = new Set(['when', 'wait', 'timeoutMs', 'signal', 'onWaiting', 'will', 'retain']);
const REMOVE_OPTIONS = new Set(['when', 'wait', 'timeoutMs', 'signal', 'onWaiting']);

export interface WaitOptions {
  when?: RegistryCondition;
  wait: boolean;
  timeoutMs?: number;
  signal?: AbortSignal;
  onWaiting?: () => void;
}

export function readRemoveOptions(options: StoreRemoveOptions, allowed: ReadonlySet<string> = REMOVE_OPTIONS, call = 'remove'): WaitOptions {
  if (typeof options !== 'object' || options === null) throw new VnfError('INVALID_ARGUMENT', `${call} takes an options object as its last argument.`);
  for (const name of Object.keys(options)) {
    if (!allowed.has(name)) throw new VnfError('INVALID_ARGUMENT', `${call} does not take an option "${name}"; it takes ${[...allowed].filter((o) => o !== 'onWaiting').join(', ')}.`);
  }
  const { when, wait, timeoutMs, signal, onWaiting } = options;
  const result: WaitOptions = { wait: wait === true };
  if (wait !== undefined && typeof wait !== 'boolean') throw new VnfError('INVALID_ARGUMENT', `${call}: wait must be true or false.`);
  if ('when' in options && when !== undefined) result.when = validateCondition(when);
  if (result.wait && result.when === undefined) {
    throw new VnfError('INVALID_ARGUMENT', `${call}: wait needs a condition to wait for (when: null, { version } or { fields }).`);
  }
  if (timeoutMs !== undefined) {
    // Timers hold at most 2^31 - 1 ms (about 24.8 days); a longer delay would fire at once.
    if (typeof timeoutMs !== 'number' || !(timeoutMs > 0) || timeoutMs > MAX_TIMEOUT_MS) {
      throw new VnfError('INVALID_ARGUMENT', `${call}: timeoutMs must be a positive number of milliseconds, at most ${MAX_TIMEOUT_MS} (about 24 days); leave it out to wait without a limit.`);
    }
    if (!result.wait) throw new VnfError('INVALID_ARGUMENT', `${call}: timeoutMs only applies with wait: true.`);
    result.timeoutMs = timeoutMs;
  }
  if (signal !== undefined) {
    if (typeof signal !== 'object' || signal === null || typeof (signal as AbortSignal).addEventListener !== 'function') {
      throw new VnfError('INVALID_ARGUMENT', `${call}: signal must be an AbortSignal.`);
    }
    result.signal = signal;
  }
  if (onWaiting !== undefined) result.onWaiting = onWaiting;
  return result;
}

export function readWriteOptions(options: StoreWriteOptions): WaitOptions & { will?: RegistryWill; retain: boolean } {
  const result = readRemoveOptions(options, WRITE_OPTIONS, 'write');
  const { will, retain } = options;
  if (retain !== undefined && typeof retain !== 'boolean') throw new VnfError('INVALID_ARGUMENT', 'write: retain must be true or false.');
  if (will === undefined) return { ...result, retain: retain === true };
  const isObject = typeof will === 'object' && will !== null;
  const keys = isObject ? Object.keys(will) : [];
  if (!(isObject && keys.length === 1 && (keys[0] === 'value' || (keys[0] === 'remove' && (will as { remove: unknown }).remove === true)))) {
    throw new VnfError('INVALID_ARGUMENT', 'write: will must be { value } (what the entry becomes) or { remove: true }.');
  }
  if (retain) throw new VnfError('INVALID_ARGUMENT', 'write: a retained entry has no will (it outlives its writer anyway); give one or the other.');
  return { ...result, will, retain: false };
}

export function readWatchOptions(options: StoreWatchOptions): { snapshot: boolean; filter?: Record<string, unknown>; from?: number } {
  if (typeof options !== 'object' || options === null) throw new VnfError('INVALID_ARGUMENT', 'watch takes an options object { snapshot, filter } as its third argument.');
  for (const name of Object.keys(options)) {
    if (name !== 'snapshot' && name !== 'filter' && name !== 'from') {
      throw new VnfError('INVALID_ARGUMENT', `watch does not take an option "${name}"; it takes snapshot and filter.`);
    }
  }
  const { snapshot, filter, from } = options;
  if (snapshot !== undefined && typeof snapshot !== 'boolean') throw new VnfError('INVALID_ARGUMENT', 'watch: snapshot must be true or false.');
  const result: { snapshot: boolean; filter?: Record<string, unknown>; from?: number } = { snapshot: snapshot === true };
  if (filter !== undefined) result.filter = validateFields(filter, 'watch: filter');
  if (from !== undefined) {
    if (typeof from !== 'number' || !Number.isInteger(from) || from < 0) throw new VnfError('INVALID_ARGUMENT', 'watch: from must be a store revision (an integer ≥ 0).');
    result.from = from;
  }
  return result;
}
