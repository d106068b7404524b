import { VnfError, callUserListener, createLogger, option, optionsSchema, type RegistryClient, type RegistryKey } from '@vnf/core';
import { EventEmitter } from 'eventemitter3';

const log = createLogger('registry:lock');

/** Events of a Lock (eventemitter3). */
export interface LockEvents {
  /** The lock is held; `token` is its fencing token (the store revision of the write that took it). */
  acquired: (token: number) => void;
  /** `release()` gave the lock up. */
  released: () => void;
  /**
   * The lock may no longer be held: the channel to the registry dropped while it was (the registry may give it to
   * another contender once the broker's grace ends), or `release()` found it already gone. Stop using what it guards.
   */
  lost: (error: VnfError) => void;
  /** A listener of this Lock threw (LISTENER_ERROR). Without an `error` listener it is rethrown on a microtask. */
  error: (error: VnfError) => void;
}

export interface LockOptions {
  /**
   * The registry collection the lock entry lives in (its name is the lock's name).
   * @default 'vnf.locks'
   */
  collection?: string;
  /** Plain JSON stored with the lock entry while it is held (what a holder wants others to see: its address, …). */
  info?: unknown;
}

export interface LockAcquireOptions {
  /** Give up after this long, ms: `acquire` rejects TIMEOUT. Default: wait until the signal fires or the client closes. */
  timeoutMs?: number;
  /** Abort the wait: `acquire` rejects CANCELLED and the lock is not taken. */
  signal?: AbortSignal;
}

/** What is stored in a held lock's entry. */
export interface LockValue {
  /** The eva of the holder's registry client. */
  holder: string;
  /** Unique to one acquisition: only the very acquisition that wrote the entry removes it. */
  nonce: string;
  /** The holder's `info` option, when given. */
  info?: unknown;
}

const SCHEMA = optionsSchema('Lock', {
  collection: option.string({ nonEmpty: true, default: 'vnf.locks' }),
  info: option.custom<unknown>({ expected: 'a plain JSON value', check: () => true }),
});

const ACQUIRE_SCHEMA = optionsSchema('Lock.acquire', {
  timeoutMs: option.number({ above: 0, max: 2 ** 31 - 1, expected: 'a positive number of ms (at most 2^31 - 1)' }),
  signal: option.custom<AbortSignal>({ expected: 'an AbortSignal', check: isAbortSignal }),
});

/** The part of a client's events a Lock listens to: both registry clients are eventemitter3 emitters of them. */
interface ChannelEvents {
  on(event: 'down' | 'resynced', listener: () => void): unknown;
  off(event: 'down' | 'resynced', listener: () => void): unknown;
}

type State = 'idle' | 'acquiring' | 'held' | 'releasing';

let nonceCount = 0;
const nonceTag = Math.random().toString(36).slice(2, 10);

/**
 * A mutual-exclusion lock over a registry: one registry entry, written only when absent (`when: null`), waited
 * for first come first served, removed by a will when the holder's session ends uncleanly. Each acquisition gets a
 * fencing token, the store revision of its write: it only grows, so a resource that refuses tokens lower than the
 * highest it has seen refuses a holder that lost the lock without knowing it.
 *
 * When the client's channel drops while the lock is held, the holder can no longer be sure it holds it: the Lock
 * emits `lost` at once. If the channel comes back within the grace (`resynced`), the Lock removes its stale entry,
 * so that others are not kept waiting for a holder that stopped.
 */
export class Lock extends EventEmitter<LockEvents> {
  readonly name: string;
  readonly collection: string;
  private readonly client: RegistryClient;
  private readonly info: unknown;
  private state: State = 'idle';
  private currentToken: number | null = null;
  /** The nonce of the acquisition in hand (acquiring, held or releasing). */
  private nonce: string | null = null;
  /** Nonces of entries this Lock may have left behind (written while the channel dropped): removed on `resynced`. */
  private readonly stale = new Set<string>();
  private readonly detach: () => void;

  constructor(client: RegistryClient, name: string, options?: LockOptions) {
    super();
    if (typeof client !== 'object' || client === null || typeof client.write !== 'function' || typeof client.remove !== 'function') {
      throw new VnfError('INVALID_ARGUMENT', 'new Lock(client, name) needs a RegistryClient with write and remove (InBrowserRegistry.connect or WebSocketRegistryClient).');
    }
    if (typeof name !== 'string' || name === '') {
      throw new VnfError('INVALID_ARGUMENT', `new Lock(client, name): name must be a non-empty string; got ${typeof name === 'string' ? 'the empty string' : typeof name}.`);
    }
    const resolved = SCHEMA.resolve(options);
    this.client = client;
    this.name = name;
    this.collection = resolved.collection;
    this.info = resolved.info;
    this.detach = this.listenToChannel();
    this.acquire = this.acquire.bind(this);
    this.release = this.release.bind(this);
  }

  /** True while the lock is held (from `acquired` until `release()`, `lost`, or the client's close). */
  get held(): boolean {
    // A closed client's entries are gone: its lock with them (both clients have `closed`; the interface does not).
    return this.state === 'held' && (this.client as { closed?: boolean }).closed !== true;
  }

  /** The fencing token of the current hold; null when the lock is not held. */
  get token(): number | null {
    return this.held ? this.currentToken : null;
  }

  /** The registry entry of this lock. */
  get key(): RegistryKey {
    return { collection: this.collection, name: this.name };
  }

  /**
   * Waits until the lock is free and takes it (first come, first served among waiters). Resolves with the fencing
   * token. Rejects TIMEOUT after `timeoutMs`, CANCELLED when `signal` fires, INVALID_ARGUMENT when this Lock is
   * already held or being acquired (a Lock is not reentrant: make one Lock per contender).
   */
  async acquire(options?: LockAcquireOptions): Promise<{ token: number }> {
    const { timeoutMs, signal } = ACQUIRE_SCHEMA.resolve(options);
    if (this.state === 'held' && !this.held) this.forget(); // its client closed: the entry went with it
    if (this.state !== 'idle') {
      throw new VnfError(
        'INVALID_ARGUMENT',
        `Lock "${this.name}" is already ${this.state === 'acquiring' ? 'being acquired' : this.state === 'held' ? 'held' : 'being released'}: a Lock is not reentrant; await the first acquire() (or release()), or use another Lock for another contender.`,
      );
    }
    if (signal?.aborted) throw cancelled(this.name);
    const nonce = `${nonceTag}.${(nonceCount++).toString(36)}`;
    const value: LockValue = { holder: this.client.owner, nonce, ...(this.info === undefined ? {} : { info: this.info }) };
    this.state = 'acquiring';
    this.nonce = nonce;
    log('%s: acquiring %s/%s', this.client.owner, this.collection, this.name);
    let result;
    try {
      result = await this.client.write(this.key, value, {
        when: null,
        wait: true,
        will: { remove: true },
        ...(timeoutMs === undefined ? {} : { timeoutMs }),
        ...(signal === undefined ? {} : { signal }),
      });
    } catch (err) {
      this.forget();
      // TIMEOUT and CANCELLED wrote nothing; any other failure (the channel dropped during the wait) may have won
      // at the registry without the answer coming back: make sure such an entry goes.
      if (!VnfError.is(err, 'TIMEOUT') && !VnfError.is(err, 'CANCELLED') && !VnfError.is(err, 'INVALID_ARGUMENT') && !VnfError.is(err, 'DESTROYED')) {
        this.stale.add(nonce);
        void this.removeStale();
      }
      log('%s: acquiring %s/%s failed: %O', this.client.owner, this.collection, this.name, err);
      throw err;
    }
    if (result.status !== 'OK' || result.revision === null) {
      this.forget();
      throw new VnfError('INTERNAL', `Lock "${this.name}": the registry answered ${result.status} to a waiting write; it should have waited until the lock was free.`, {
        details: { result },
      });
    }
    // An answer that came back was given on a live channel to this session: the hold is good even if the channel
    // blinked during the wait (the registry kept the wait through the grace).
    this.state = 'held';
    this.currentToken = result.revision;
    log('%s: acquired %s/%s, token %d', this.client.owner, this.collection, this.name, result.revision);
    this.emitSafely('acquired', result.revision);
    return { token: result.revision };
  }

  /**
   * Gives the lock up: removes its entry, only if it is still this acquisition's. Resolves once done (also when the
   * lock is not held: nothing to do). When the entry was already gone or another's, emits `lost` instead of
   * `released`. Rejects INVALID_ARGUMENT while an acquire() is pending (abort it with its signal instead), and with
   * the client's error when the registry could not be reached (the entry then goes when the channel comes back, or
   * with the session's will).
   */
  async release(): Promise<void> {
    if (this.state === 'acquiring') {
      throw new VnfError('INVALID_ARGUMENT', `Lock "${this.name}" is being acquired, not held: abort the acquire() with its signal instead of releasing.`);
    }
    if (this.state !== 'held') return;
    if (!this.held) {
      // The client closed: its entries, this one among them, went with it.
      this.forget();
      return;
    }
    const nonce = this.nonce!;
    this.state = 'releasing';
    let result;
    try {
      result = await this.client.remove(this.key, { when: { fields: { holder: this.client.owner, nonce } } });
    } catch (err) {
      this.forget();
      if (!VnfError.is(err, 'DESTROYED')) {
        this.stale.add(nonce);
        void this.removeStale();
      }
      log('%s: releasing %s/%s failed: %O', this.client.owner, this.collection, this.name, err);
      throw err;
    }
    this.forget();
    this.stale.delete(nonce);
    if (result.status === 'OK') {
      log('%s: released %s/%s', this.client.owner, this.collection, this.name);
      this.emitSafely('released');
    } else {
      log('%s: %s/%s was no longer held when released', this.client.owner, this.collection, this.name);
      this.emitSafely('lost', new VnfError('NOT_FOUND', `Lock "${this.name}" was no longer held when released: its entry was gone or another acquisition's.`));
    }
  }

  /** Stops listening to the client. The lock itself is not released: call `release()` first. */
  dispose(): void {
    this.detach();
    this.removeAllListeners();
  }

  private forget(): void {
    this.state = 'idle';
    this.nonce = null;
    this.currentToken = null;
  }

  private listenToChannel(): () => void {
    const emitter = this.client as unknown as Partial<ChannelEvents>;
    if (typeof emitter.on !== 'function' || typeof emitter.off !== 'function') {
      log('the registry client of %s has no events: a Lock cannot tell when its channel drops', this.client.owner);
      return () => undefined;
    }
    const onDown = (): void => this.onDown();
    const onResynced = (): void => void this.removeStale();
    emitter.on('down', onDown);
    emitter.on('resynced', onResynced);
    return () => {
      emitter.off!('down', onDown);
      emitter.off!('resynced', onResynced);
    };
  }

  private onDown(): void {
    // Acquiring: the wait goes on or rejects, and an answer that comes back is good (see acquire).
    // Releasing: the removal may or may not have been made; release() settles it, and a failed one leaves it stale.
    if (this.state !== 'held') return;
    this.stale.add(this.nonce!);
    this.forget();
    log('%s: the channel dropped while %s/%s was held', this.client.owner, this.collection, this.name);
    this.emitSafely(
      'lost',
      new VnfError(
        'UNAVAILABLE',
        `Lock "${this.name}" may be lost: the channel to the registry dropped, and another contender gets the lock if it does not come back within the broker's grace. Stop using what it guards; acquire it again once the client resynced.`,
      ),
    );
  }

  /** Removes the entries this Lock may have left (each only if it is still that acquisition's); what fails waits for the next resynced. */
  private async removeStale(): Promise<void> {
    for (const nonce of [...this.stale]) {
      try {
        const result = await this.client.remove(this.key, { when: { fields: { holder: this.client.owner, nonce } } });
        this.stale.delete(nonce);
        log('%s: stale entry of %s/%s %s', this.client.owner, this.collection, this.name, result.status === 'OK' ? 'removed' : 'already gone');
      } catch (err) {
        // A closed client's entries went with it; otherwise still unreachable: the next resynced tries again.
        if (VnfError.is(err, 'DESTROYED')) this.stale.clear();
        log('%s: could not remove the stale entry of %s/%s yet: %O', this.client.owner, this.collection, this.name, err);
        return;
      }
    }
  }

  private emitSafely<E extends 'acquired' | 'released' | 'lost'>(event: E, ...args: Parameters<LockEvents[E]>): void {
    callUserListener(this, () => (this.emit as (event: E, ...args: Parameters<LockEvents[E]>) => boolean)(event, ...args), `the Lock "${this.name}"`);
  }
}

function cancelled(name: string): VnfError {
  return new VnfError('CANCELLED', `Lock "${name}": acquire() was aborted by its signal before it started.`);
}

function isAbortSignal(value: unknown): boolean {
  return typeof value === 'object' && value !== null && typeof (value as AbortSignal).aborted === 'boolean' && typeof (value as AbortSignal).addEventListener === 'function';
}
