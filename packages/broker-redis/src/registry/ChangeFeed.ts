import { randomBytes } from 'node:crypto';
import { callUserListener, createLogger, type ErrorEmitter, type StorageChange } from '@vnf/core';
import type { Redis } from 'ioredis';
import { disconnectReader } from '../connection';
import { decodeChange } from './codec';

const log = createLogger('broker-redis:registry');

/** Log entries read at once. */
const BATCH = 512;
/**
 * How long one XREAD blocks, ms. A read cut by a lost connection is sent again on the new one (ioredis resends
 * unfulfilled commands) with the cursor of before: bounded, so that a Redis that restarted empty is noticed soon.
 */
const BLOCK_MS = 1000;

/** No `error` event here: what a listener throws is rethrown on a microtask (callUserListener), and the feed goes on. */
const UNHEARD: ErrorEmitter = { listenerCount: () => 0, emit: () => false };

interface Subscription {
  listener: (change: StorageChange) => void;
}

interface Waiter {
  revision: number;
  resolve: () => void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * The change log as this handle hears it: one connection of its own blocked in XREAD on the log stream, telling
 * each change to the local listeners of its collection, in revision order, whoever wrote it. A local write waits
 * (`dispatched`) until its revision came through here, so its listeners hear it before the write resolves.
 */
export class ChangeFeed {
  /** The last revision told; -1 until started. */
  private cursor = -1;
  private readonly subscriptions = new Map<string, Set<Subscription>>();
  private waiters: Waiter[] = [];
  private closed = false;
  private running: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  /** Set when the connection (re)connected: the store may have restarted meanwhile. */
  private check = true;
  /** The run id of the Redis the cursor belongs to, and the store's epoch there. */
  private runId: string | undefined;
  private epoch: string | undefined;

  constructor(
    private readonly reader: Redis,
    private readonly logKey: string,
    /** A random value set once per store: an empty restart loses it, a restart with its data keeps it. */
    private readonly epochKey: string,
  ) {
    reader.on('ready', () => {
      this.check = true;
    });
  }

  /** Starts reading after `revision` (the store's revision when the handle started). */
  start(revision: number): void {
    if (this.running || this.closed) return;
    this.cursor = revision;
    this.release();
    this.running = this.loop();
  }

  get started(): boolean {
    return this.running !== undefined;
  }

  /** Tells `listener` the changes of `collection` the feed has not told yet. Call it once started. */
  subscribe(collection: string, listener: (change: StorageChange) => void): () => void {
    const set = this.subscriptions.get(collection) ?? new Set<Subscription>();
    // Each subscription its own record: one function subscribed twice is told twice.
    const own: Subscription = { listener };
    set.add(own);
    this.subscriptions.set(collection, set);
    return () => {
      set.delete(own);
      if (set.size === 0 && this.subscriptions.get(collection) === set) this.subscriptions.delete(collection);
    };
  }

  /**
   * Resolves once `revision` was told here. After `timeoutMs` it resolves anyway (the write is done; only its
   * listeners hear it late): a write must not hang on a feed that lost its connection.
   */
  dispatched(revision: number, timeoutMs: number): Promise<void> {
    if (this.closed || this.cursor >= revision) return Promise.resolve();
    return new Promise((resolve) => {
      const waiter: Waiter = { revision, resolve, timer: undefined };
      waiter.timer = setTimeout(() => {
        log('revision %d not read from the change log within %d ms: resolving the write before its listeners heard it', revision, timeoutMs);
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve();
      }, timeoutMs);
      waiter.timer.unref?.();
      this.waiters.push(waiter);
    });
  }

  /** Stops reading: disconnects the feed's connection; pending writes resolve. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wake?.();
    const settles = disconnectReader(this.reader);
    this.release(true);
    this.subscriptions.clear();
    if (settles) await this.running;
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (!this.closed) {
      try {
        if (this.check) {
          this.check = false;
          await this.checkRestart();
        }
        const reply = (await this.reader.call('XREAD', 'COUNT', BATCH, 'BLOCK', BLOCK_MS, 'STREAMS', this.logKey, `${this.cursor}-0`)) as
          | Array<[string, Array<[string, string[]]>]>
          | null;
        failures = 0;
        if (this.closed) break;
        for (const [, entries] of reply ?? []) for (const entry of entries) this.tell(decodeChange(entry));
      } catch (err) {
        if (this.closed) break;
        failures += 1;
        this.check = true;
        log('reading the registry change log failed (%s); retrying', err instanceof Error ? err.message : String(err));
        await this.pause(Math.min(50 * failures, 1000));
      }
    }
  }

  /**
   * A Redis of another run (INFO's run_id changed) restarted: its log is read from the start. The run id, not the
   * revision, tells: other brokers may have written past this cursor already, and a replica a little behind is no
   * restart.
   */
  private async checkRestart(): Promise<void> {
    const info = String(await this.reader.call('INFO', 'server'));
    const runId = /run_id:(\w+)/.exec(info)?.[1];
    const before = this.runId;
    this.runId = runId;
    await this.reader.call('SET', this.epochKey, randomBytes(8).toString('hex'), 'NX');
    const epoch = String(await this.reader.call('GET', this.epochKey));
    const known = this.epoch;
    this.epoch = epoch;
    if (before === undefined || runId === before || known === undefined || epoch === known) {
      // The same Redis, or one restarted with its data (persistence): the log goes on where it was.
      return;
    }
    log('Redis restarted empty (run id %s; %d changes told here): reading its new log from the start', runId, this.cursor);
    this.cursor = 0;
    // Writes waiting on revisions of the old store will never see them.
    this.release(true);
  }

  private tell(change: StorageChange): void {
    if (change.revision <= this.cursor) return;
    if (change.revision > this.cursor + 1) {
      log('the change log was trimmed past revision %d: %d changes were not told here', this.cursor, change.revision - this.cursor - 1);
    }
    this.cursor = change.revision;
    const set = this.subscriptions.get(change.record.collection);
    if (set) {
      // A copy: a listener may unsubscribe itself or another while being told.
      for (const subscription of [...set]) {
        if (!set.has(subscription)) continue;
        const copy = copyChange(change);
        callUserListener(UNHEARD, () => subscription.listener(copy), () => `a storage subscriber of collection ${change.record.collection}`);
      }
    }
    this.release();
  }

  /** Resolves the writes whose revision was told (all of them with `all`). */
  private release(all = false): void {
    if (this.waiters.length === 0) return;
    const done = all ? this.waiters : this.waiters.filter((w) => w.revision <= this.cursor);
    if (done.length === 0) return;
    this.waiters = all ? [] : this.waiters.filter((w) => w.revision > this.cursor);
    for (const waiter of done) {
      clearTimeout(waiter.timer);
      waiter.resolve();
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}

function copyChange(change: StorageChange): StorageChange {
  const copy: StorageChange = { revision: change.revision, type: change.type, record: { ...change.record } };
  if (change.record.will) copy.record.will = { ...change.record.will };
  if (change.previous) copy.previous = { ...change.previous };
  return copy;
}
