// Helpers of the Lock and LeaderElection tests: waiting on events and promises with a deadline, never a fixed sleep.
import type { RegistryClient } from '@vnf/core';
import type { EventEmitter } from 'eventemitter3';

const WAIT_MS = 5_000;

/** The next `event` of `emitter`, with its arguments; rejects naming the event if it does not come within WAIT_MS. */
export function nextEvent(target: object, event: string, timeoutMs = WAIT_MS): Promise<unknown[]> {
  const emitter = target as EventEmitter;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`no "${event}" event within ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = (...args: unknown[]): void => {
      clearTimeout(timer);
      emitter.off(event, listener);
      resolve(args);
    };
    emitter.on(event, listener);
  });
}

/**
 * Lets every pending step of the in-memory registry run (it uses promises only, no timers): after this, a waiting
 * write called before it is queued at the store, so waiters queue in the order the test called them.
 */
export function settled(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Rejects if `promise` does not settle within WAIT_MS, naming `what`. */
export function within<T>(promise: Promise<T>, what: string, timeoutMs = WAIT_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not settled within ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The client as the event emitter both registry clients are. */
export function events(client: RegistryClient): EventEmitter {
  return client as unknown as EventEmitter;
}


/** Resolves once `check()` is true, checked after each turn of the event loop; rejects naming `what` after WAIT_MS. */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await settled();
  }
}
