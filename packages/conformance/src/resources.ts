import { createHook, type AsyncHook } from 'node:async_hooks';

/**
 * Resource kinds that betray a leak when they outlive a test: timers and sockets (async_hooks type names).
 * Immediates always run within a tick and promises hold nothing open, so neither is tracked.
 */
const TRACKED = new Set(['Timeout', 'TCPWRAP', 'TCPSERVERWRAP', 'UDPWRAP', 'PIPEWRAP', 'PIPESERVERWRAP']);

/** A timer or socket created while a tracker ran, still alive and still keeping the process running. */
export interface LiveResource {
  type: string;
  /** Where it was created (a few frames). */
  createdAt: string;
}

interface Entry {
  type: string;
  resource: { hasRef?: () => boolean; _destroyed?: boolean };
  createdAt: string;
}

const STACK_FRAMES = 8;

/**
 * Records the timers and sockets created from `start()` on — by this test's code only, never what other
 * tests or the runner created before — and tells which of them are still alive and ref'd. Scoped to what a
 * test created, so its verdict does not depend on which tests ran before it in the process.
 */
export class ResourceTracker {
  private readonly entries = new Map<number, Entry>();
  private readonly hook: AsyncHook;
  /** Set while the tracker creates its own poll timers, so it never counts them. */
  private own = false;
  private stopped = false;

  private constructor() {
    this.hook = createHook({
      init: (asyncId, type, _trigger, resource) => {
        if (this.own || !TRACKED.has(type)) return;
        const limit = Error.stackTraceLimit;
        Error.stackTraceLimit = STACK_FRAMES + 2;
        const stack = new Error().stack ?? '';
        Error.stackTraceLimit = limit;
        const createdAt = stack.split('\n').slice(3).map((line) => line.trim()).join(' ← ');
        this.entries.set(asyncId, { type, resource: resource as Entry['resource'], createdAt });
      },
      destroy: (asyncId) => {
        this.entries.delete(asyncId);
      },
    });
    this.hook.enable();
  }

  /** Starts recording. Call it inside the test body (the runner's own timeout timer is created before it). */
  static start(): ResourceTracker {
    return new ResourceTracker();
  }

  /** What was created since `start()` and still holds the process open: not closed, not fired, not unref'd. */
  alive(): LiveResource[] {
    const live: LiveResource[] = [];
    for (const { type, resource, createdAt } of this.entries.values()) {
      // A timer that fired or was cleared is marked at once; its destroy hook only runs a tick later.
      if (resource._destroyed === true) continue;
      if (typeof resource.hasRef === 'function' && !resource.hasRef()) continue;
      live.push({ type, createdAt });
    }
    return live;
  }

  /** Counts of `alive()` by kind. */
  count(type?: string): number {
    return this.alive().filter((r) => type === undefined || r.type === type).length;
  }

  describe(): string {
    const live = this.alive();
    if (live.length === 0) return 'nothing the test created is still alive';
    return `still alive: ${live.map((r) => `${r.type} created at ${r.createdAt}`).join('\n  ')}`;
  }

  /**
   * Resolves once everything created since `start()` is closed or unref'd, polling with timers of its own
   * (never counted); rejects after `timeoutMs` naming each resource still alive and where it was created.
   * Stops the tracker either way.
   */
  released(timeoutMs: number, what = 'the timers and sockets this test created to be released'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    return new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (this.alive().length === 0) {
          this.stop();
          resolve();
        } else if (Date.now() > deadline) {
          const message = `Timed out after ${timeoutMs} ms waiting for ${what}: ${this.describe()}`;
          this.stop();
          reject(new Error(message));
        } else {
          this.untracked(() => setTimeout(check, 10));
        }
      };
      this.untracked(() => setImmediate(check));
    });
  }

  /** Stops recording (idempotent). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.hook.disable();
  }

  private untracked(fn: () => void): void {
    this.own = true;
    try {
      fn();
    } finally {
      this.own = false;
    }
  }
}

/** Starts a ResourceTracker: `const resources = trackResources(); …; await resources.released(5000);` */
export function trackResources(): ResourceTracker {
  return ResourceTracker.start();
}
