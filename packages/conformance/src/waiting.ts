/** Waits for a condition signalled by a callback, failing with a clear message after `timeoutMs`. */
export function waitFor<T>(what: string, timeoutMs: number, register: (done: (value: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
    register((value) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}

/** Polls `condition` every few ms until it holds, failing after `timeoutMs` with `describe()` in the message. */
export function until(what: string, timeoutMs: number, condition: () => boolean, describe?: () => string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const deadline = Date.now() + timeoutMs;
    const check = (): void => {
      if (condition()) return resolve();
      if (Date.now() > deadline) {
        return reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${what}${describe ? `: ${describe()}` : ''}`));
      }
      // Check from an immediate, not from the timer callback itself: Node counts a timer as active until its
      // callback returns, so a check inside it would see the poll's own timer as a leak.
      setTimeout(() => setImmediate(check), 10);
    };
    check();
  });
}

/** A unique eva for one test, so hubs sharing one broker never collide across tests. */
let counter = 0;
const run = Math.random().toString(36).slice(2, 8);
export function uniqueEva(label: string): string {
  counter += 1;
  return `${label}-${run}-${counter}`;
}
