import { VnfError, type ErrorCode, type RegistryChange, type RegistryWatchEvent } from '@vnf/core';

/**
 * Collects the events a watcher is told and waits for a number of them (or for a condition on them), with a
 * timeout. `T` is RegistryChange for a plain watch, RegistryWatchEvent for a `snapshot: true` one.
 */
export class Recorder<T extends RegistryWatchEvent = RegistryChange> {
  readonly changes: T[] = [];
  private waiting: { ready: () => boolean; resolve: () => void } | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly timeoutMs: number) {}

  readonly watcher = (change: T): void => {
    this.changes.push(change);
    if (this.waiting && this.waiting.ready()) this.waiting.resolve();
  };

  until(count: number): Promise<T[]> {
    return this.untilMatch(`${count} registry changes`, (changes) => changes.length >= count).then(() => this.changes.slice(0, count));
  }

  /** Resolves with every event told so far once `ready(events)` holds. */
  untilMatch(what: string, ready: (changes: T[]) => boolean): Promise<T[]> {
    return new Promise<void>((resolve, reject) => {
      if (ready(this.changes)) {
        resolve();
        return;
      }
      this.dispose();
      this.timer = setTimeout(() => {
        this.waiting = null;
        reject(new Error(`Expected ${what} within ${this.timeoutMs} ms; got ${describeChanges(this.changes)}.`));
      }, this.timeoutMs);
      this.waiting = {
        ready: () => ready(this.changes),
        resolve: () => {
          this.dispose();
          resolve();
        },
      };
    }).then(() => [...this.changes]);
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.waiting = null;
  }
}

export function describeChange(change: RegistryWatchEvent): string {
  if (change.type === 'snapshot') return `snapshot${change.resync ? '(resync)' : ''}:${change.entries.map((e) => e.name).join(',')}`;
  return `${change.type}:${change.entry.name}`;
}

export function describeChanges(changes: RegistryWatchEvent[]): string {
  if (changes.length === 0) return 'none';
  return changes
    .map((c) =>
      c.type === 'snapshot'
        ? `snapshot${c.resync ? ' (resync)' : ''} at ${c.revision} of [${c.entries.map((e) => e.name).join(', ')}]`
        : `${c.type} ${c.entry.collection}/${c.entry.name} ${safeString(c.entry.value)}${c.revision === undefined ? '' : ` @${c.revision}`}`,
    )
    .join(', ');
}

/** Registry calls are asynchronous: even a bad argument must reject, never throw at the call. */
export function attempt<T>(call: () => Promise<T>): Promise<T> {
  try {
    return call();
  } catch (err) {
    return Promise.reject(new Error(`The call threw synchronously instead of returning a rejected promise: ${String(err)}`));
  }
}

export async function expectCode(promise: Promise<unknown>, code: ErrorCode, ...input: unknown[]): Promise<void> {
  let outcome: string;
  try {
    const value = await promise;
    outcome = `resolved ${safeString(value)}`;
  } catch (err) {
    if (VnfError.is(err, code)) return;
    outcome = VnfError.is(err) ? `rejected VnfError ${err.code}: ${err.message}` : `rejected ${safeString(err)}`;
  }
  throw new Error(`Expected a VnfError ${code}${input.length > 0 ? ` for ${safeString(input[0])}` : ''}; the call ${outcome}.`);
}

export function safeString(value: unknown): string {
  if (typeof value === 'bigint' || typeof value === 'symbol' || typeof value === 'function') return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
