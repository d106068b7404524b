import { VnfError, createLogger, type RegistryKey, type RegistryWriteResult } from '@vnf/core';

const log = createLogger('registry:waiters');

/**
 * What one pass over a key's waiters has seen of the key: the entry's version at the pass's first attempt (0:
 * absent). Every later attempt of the pass must find the same version, or the pass starts again from the first
 * waiter: on a storage where attempts take real time (Redis), a change landing mid-pass would otherwise go to a
 * waiter behind one that already tried.
 */
export interface PassState {
  version?: number;
}

/** What an attempt of a pass reports when the key is no longer as the pass first saw it. */
export const CHANGED_DURING_PASS = 'changed';

/**
 * One write waiting for its condition: `attempt` tries it once more, and resolves null while the condition does not
 * hold, or CHANGED_DURING_PASS (writing nothing) when the key is not as `pass` saw it.
 */
interface Waiter {
  attempt(pass?: PassState): Promise<RegistryWriteResult | null | typeof CHANGED_DURING_PASS>;
  resolve(result: RegistryWriteResult): void;
  reject(error: unknown): void;
  /** Set when the wait was given up while an attempt ran: the attempt's outcome decides (a write that happened is reported). */
  cancelled: VnfError | null;
  running: boolean;
}

interface KeyQueue {
  waiters: Waiter[];
  /** A pass over the queue is running; `again` asks for one more once it ends (a change came during it). */
  passing: boolean;
  again: boolean;
}

/** What a wait needs of the rules: a subscription to its collection's changes while any write waits there. */
export interface WaitersHost {
  subscribe(collection: string, onChange: (name: string) => void): Promise<() => void>;
}

/**
 * The writes waiting for their conditions (`wait: true`), by key, in the order they came: when the key changes,
 * the waiters try again one after another, first come first served, and a pass stops at the first that writes
 * (its own write is a change, which starts the next pass). So of several waiters on one change exactly one wins.
 */
export class WriteWaiters {
  private readonly queues = new Map<string, KeyQueue>();
  private readonly collections = new Map<string, { keys: number; stop: Promise<() => void> }>();

  constructor(private readonly host: WaitersHost) {}

  /** True when writes wait for `key`: a new waiting write queues behind them instead of trying first. */
  has(key: RegistryKey): boolean {
    return (this.queues.get(keyId(key))?.waiters.length ?? 0) > 0;
  }

  /**
   * Queues a write until `attempt` succeeds; rejects TIMEOUT after `timeoutMs`, CANCELLED when `signal` fires.
   * `onWaiting` is called once it is queued.
   */
  wait(key: RegistryKey, attempt: Waiter['attempt'], options: { timeoutMs?: number; signal?: AbortSignal; onWaiting?: () => void }): Promise<RegistryWriteResult> {
    const { timeoutMs, signal, onWaiting } = options;
    return new Promise<RegistryWriteResult>((resolve, reject) => {
      const id = keyId(key);
      let timer: ReturnType<typeof setTimeout> | null = null;
      const settle = (): void => {
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const waiter: Waiter = {
        attempt,
        resolve: (result) => {
          settle();
          resolve(result);
        },
        reject: (error) => {
          settle();
          reject(error);
        },
        cancelled: null,
        running: false,
      };
      const giveUp = (error: VnfError): void => {
        if (waiter.running) {
          waiter.cancelled = error;
          return;
        }
        this.remove(id, waiter);
        waiter.reject(error);
      };
      const onAbort = (): void => giveUp(cancelledError(key));
      if (signal?.aborted) {
        reject(cancelledError(key));
        return;
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs !== undefined && Number.isFinite(timeoutMs)) {
        timer = setTimeout(() => giveUp(timeoutError(key, timeoutMs)), timeoutMs);
        (timer as { unref?: () => void }).unref?.();
      }
      void this.enqueue(key, id, waiter, onWaiting);
    });
  }

  private async enqueue(key: RegistryKey, id: string, waiter: Waiter, onWaiting?: () => void): Promise<void> {
    let queue = this.queues.get(id);
    const fresh = !queue;
    if (!queue) {
      queue = { waiters: [], passing: false, again: false };
      this.queues.set(id, queue);
    }
    queue.waiters.push(waiter);
    try {
      // Subscribed before the next attempt: a change between the failed attempt and the subscription is not missed.
      await this.watchCollection(key.collection, fresh);
    } catch (err) {
      this.remove(id, waiter);
      waiter.reject(err);
      return;
    }
    onWaiting?.();
    this.pass(id);
  }

  /** Tries the waiters of a key in order until one writes; runs again if the key changed meanwhile. */
  private pass(id: string): void {
    const queue = this.queues.get(id);
    if (!queue) return;
    if (queue.passing) {
      queue.again = true;
      return;
    }
    queue.passing = true;
    void (async () => {
      do {
        queue.again = false;
        const seen: PassState = {};
        for (const waiter of [...queue.waiters]) {
          if (!queue.waiters.includes(waiter)) continue;
          waiter.running = true;
          let result: RegistryWriteResult | null = null;
          let failure: unknown = null;
          try {
            const outcome = await waiter.attempt(seen);
            if (outcome === CHANGED_DURING_PASS) {
              // The key changed under this pass: the first waiters get the first look at its new state.
              waiter.running = false;
              queue.again = true;
              if (waiter.cancelled) {
                queue.waiters.splice(queue.waiters.indexOf(waiter), 1);
                waiter.reject(waiter.cancelled);
              }
              break;
            }
            result = outcome;
          } catch (err) {
            failure = err ?? new VnfError('INTERNAL', 'A waiting registry write failed.');
          }
          waiter.running = false;
          if (result || failure || waiter.cancelled) {
            queue.waiters.splice(queue.waiters.indexOf(waiter), 1);
            if (result) waiter.resolve(result);
            else waiter.reject(failure ?? waiter.cancelled);
          }
          // The winner's write is a change of the key: it starts the next pass, whose waiters see the new value.
          if (result) break;
        }
      } while (queue.again && queue.waiters.length > 0);
      queue.passing = false;
      if (queue.waiters.length === 0) this.drop(id);
    })().catch((err: unknown) => log('a pass over waiting writes failed: %O', err));
  }

  private remove(id: string, waiter: Waiter): void {
    const queue = this.queues.get(id);
    if (!queue) return;
    const at = queue.waiters.indexOf(waiter);
    if (at >= 0) queue.waiters.splice(at, 1);
    this.drop(id);
  }

  private drop(id: string): void {
    const queue = this.queues.get(id);
    if (!queue || queue.waiters.length > 0 || queue.passing) return;
    this.queues.delete(id);
    const collection = (JSON.parse(id) as [string, string])[0];
    const watched = this.collections.get(collection);
    if (!watched) return;
    watched.keys -= 1;
    if (watched.keys > 0) return;
    this.collections.delete(collection);
    void watched.stop.then((stop) => stop());
  }

  /** The collection's subscription, counting the keys that wait in it (`fresh`: one more). */
  private watchCollection(collection: string, fresh: boolean): Promise<() => void> {
    let watched = this.collections.get(collection);
    if (!watched) {
      watched = {
        keys: 0,
        stop: this.host.subscribe(collection, (name) => {
          if (this.queues.has(keyId({ collection, name }))) this.pass(keyId({ collection, name }));
        }),
      };
      this.collections.set(collection, watched);
    }
    if (fresh) watched.keys += 1;
    return watched.stop;
  }
}

function keyId(key: RegistryKey): string {
  return JSON.stringify([key.collection, key.name]);
}

function cancelledError(key: RegistryKey): VnfError {
  return new VnfError('CANCELLED', `The wait to write "${key.name}" in "${key.collection}" was cancelled; nothing was written.`, {
    details: { collection: key.collection, name: key.name },
  });
}

function timeoutError(key: RegistryKey, timeoutMs: number): VnfError {
  return new VnfError(
    'TIMEOUT',
    `The condition to write "${key.name}" in "${key.collection}" did not hold within ${timeoutMs} ms; nothing was written. Wait longer, or check who holds the entry.`,
    { details: { collection: key.collection, name: key.name, timeoutMs } },
  );
}
