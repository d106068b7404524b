import { VnfError } from './errors';

/** What `callUserListener` reports to: any emitter with an `error` event (endpoints, registry clients). */
export interface ErrorEmitter {
  listenerCount(event: 'error'): number;
  emit(event: 'error', error: VnfError): boolean;
}

/**
 * Runs user code (a listener, a callback, a watcher). What it throws becomes an `error` event
 * (LISTENER_ERROR, or the VnfError it threw); with no `error` listener it is rethrown on a microtask,
 * as Node's EventEmitter would: a bug in user code is never swallowed, and never breaks the caller.
 */
export function callUserListener(emitter: ErrorEmitter, fn: () => void, where: string | (() => string)): void {
  try {
    fn();
  } catch (cause) {
    listenerFailed(emitter, cause, where);
  }
}

/** As `callUserListener`, for a listener of one argument: no closure per call on a hot path (a message event). */
export function callUserListenerWith<A>(emitter: ErrorEmitter, fn: (arg: A) => void, arg: A, where: string | (() => string)): void {
  try {
    fn(arg);
  } catch (cause) {
    listenerFailed(emitter, cause, where);
  }
}

/** `where` names the listener in the error; a function is called only then, so a hot path builds no string. */
function listenerFailed(emitter: ErrorEmitter, cause: unknown, where: string | (() => string)): void {
  const error = VnfError.is(cause) ? cause : new VnfError('LISTENER_ERROR', `A listener on ${typeof where === 'function' ? where() : where} threw: ${String(cause)}`, { cause });
  if (emitter.listenerCount('error') > 0) emitter.emit('error', error);
  else
    queueMicrotask(() => {
      throw cause;
    });
}
