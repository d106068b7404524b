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
export function callUserListener(emitter: ErrorEmitter, fn: () => void, where: string): void {
  try {
    fn();
  } catch (cause) {
    const error = VnfError.is(cause) ? cause : new VnfError('LISTENER_ERROR', `A listener on ${where} threw: ${String(cause)}`, { cause });
    if (emitter.listenerCount('error') > 0) emitter.emit('error', error);
    else
      queueMicrotask(() => {
        throw cause;
      });
  }
}
