/** A promise with its resolve/reject exposed. */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(reason: unknown): void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

type Task = () => void;

/**
 * Runs `task` on a later macrotask, batching every task scheduled before it runs into one turn.
 * Macrotasks (not microtasks) so that two endpoints replying to each other cannot starve timers and I/O.
 */
export function createMacrotaskQueue(): (task: Task) => void {
  let queue: Task[] = [];
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    const tasks = queue;
    queue = [];
    for (const task of tasks) {
      try {
        task();
      } catch (err) {
        // One failing task must not cancel the deliveries queued behind it; the error still surfaces.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  };
  const schedule = macrotaskScheduler(flush);
  return (task: Task) => {
    queue.push(task);
    if (!scheduled) {
      scheduled = true;
      schedule();
    }
  };
}

function macrotaskScheduler(flush: () => void): () => void {
  if (typeof setImmediate === 'function') return () => setImmediate(flush);
  if (typeof MessageChannel === 'function') {
    // Browsers clamp nested setTimeout to 4 ms; a MessageChannel message is a macrotask without the clamp.
    // The port is closed between flushes so an idle queue holds no handle.
    let channel: MessageChannel | null = null;
    return () => {
      if (!channel) {
        channel = new MessageChannel();
        channel.port1.onmessage = () => {
          channel?.port1.close();
          channel = null;
          flush();
        };
      }
      channel.port2.postMessage(null);
    };
  }
  return () => setTimeout(flush, 0);
}
