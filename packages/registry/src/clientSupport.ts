import { VnfError, callUserListener, type RegistryChange, type RegistryClient, type RegistryWatcher } from '@vnf/core';
import type { EventEmitter } from 'eventemitter3';
import type { RegistryClientEvents } from './clientEvents';

const CLIENT_METHODS = ['createEntry', 'getEntry', 'updateEntry', 'deleteEntry', 'listEntries', 'watch', 'write', 'remove', 'close'] as const;

/** Binds every RegistryClient method to `client`: the seed calls them unbound (`createEntry.bind(null, key, value)`). */
export function bindClientMethods(client: RegistryClient): void {
  const methods = client as unknown as Record<(typeof CLIENT_METHODS)[number], (...args: unknown[]) => unknown>;
  for (const name of CLIENT_METHODS) methods[name] = methods[name].bind(client);
}

/** The error every method of a closed client rejects with. */
export function destroyedError(owner: string, operation: string): VnfError {
  return new VnfError('DESTROYED', `Cannot call ${operation}: the registry client of ${owner} was closed. Connect a new client.`);
}

/** Rejects INVALID_ARGUMENT unless `watcher` is a function (checked on the client: it never leaves the process). */
export function assertWatcher(watcher: unknown): asserts watcher is RegistryWatcher {
  if (typeof watcher !== 'function') {
    throw new VnfError('INVALID_ARGUMENT', 'watch(collection, watcher) takes a function called with each change.');
  }
}

/** Calls a user's watcher; what it throws goes to the client's `error` event, or is rethrown when nobody listens. */
export function callWatcher(
  emitter: EventEmitter<RegistryClientEvents>,
  watcher: RegistryWatcher,
  change: RegistryChange,
): void {
  callUserListener(emitter, () => watcher(change), 'a registry watcher');
}

/** Reports a failure to the `error` event, or logs it when nobody listens. */
export function reportError(
  emitter: EventEmitter<RegistryClientEvents>,
  error: VnfError,
  log: (format: string, ...args: unknown[]) => void,
): void {
  if (emitter.listenerCount('error') > 0) emitter.emit('error', error);
  else log('registry client error (no error listener): %s %s', error.code, error.message);
}

/** A signal that fires when `own` (the client's) or `caller` (the caller's, if any) does. */
export function linkedSignal(own: AbortSignal, caller: AbortSignal | undefined): AbortSignal {
  if (caller === undefined) return own;
  if (typeof caller !== 'object' || caller === null || typeof caller.addEventListener !== 'function') {
    throw new VnfError('INVALID_ARGUMENT', 'signal must be an AbortSignal.');
  }
  const controller = new AbortController();
  const abort = (): void => controller.abort();
  if (own.aborted || caller.aborted) abort();
  else {
    own.addEventListener('abort', abort, { once: true });
    caller.addEventListener('abort', abort, { once: true });
  }
  return controller.signal;
}
