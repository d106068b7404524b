import { VnfError, callUserListener, createLogger, option, optionsSchema, type RegistryClient } from '@vnf/core';
import { EventEmitter } from 'eventemitter3';
import { Lock, type LockValue } from './Lock';

const log = createLogger('registry:leader');

/** Events of a LeaderElection (eventemitter3). */
export interface LeaderElectionEvents {
  /** This candidate became the leader; `token` is its fencing token (pass it to what the leader writes to). */
  elected: (token: number) => void;
  /**
   * This candidate is no longer the leader: `error` says why when it did not resign (UNAVAILABLE: its channel to
   * the registry dropped; it campaigns again once the client resynced). Without `error`, it resigned.
   */
  deposed: (error?: VnfError) => void;
  /** A listener threw (LISTENER_ERROR), or a campaign failed for good (the client closed). Without a listener, rethrown. */
  error: (error: VnfError) => void;
}

export interface LeaderElectionOptions {
  /**
   * The registry collection of the election's entry (its name is the election's name).
   * @default 'vnf.leaders'
   */
  collection?: string;
  /**
   * Plain JSON that `leader()` tells every candidate while this one leads (its address, …).
   * @default the eva of the candidate's registry client
   */
  info?: unknown;
}

const SCHEMA = optionsSchema('LeaderElection', {
  collection: option.string({ nonEmpty: true, default: 'vnf.leaders' }),
  info: option.custom<unknown>({ expected: 'a plain JSON value', check: () => true }),
});

/** The part of a client's events an election listens to. */
interface ChannelEvents {
  on(event: 'resynced', listener: () => void): unknown;
  off(event: 'resynced', listener: () => void): unknown;
}

/**
 * One leader among the candidates of an election: a Lock that every candidate tries to take and the leader holds.
 * `campaign()` contends until elected; when the leader goes (resigns, closes its client, or its channel is lost for
 * longer than the broker's grace) the next candidate in line is elected. A leader whose channel dropped is deposed at
 * once (it can no longer be sure it leads) and campaigns again once its client resynced, unless it resigned.
 */
export class LeaderElection extends EventEmitter<LeaderElectionEvents> {
  readonly name: string;
  readonly collection: string;
  private readonly client: RegistryClient;
  private readonly lock: Lock;
  /** True from campaign() until resign(): the candidate wants to lead. */
  private running = false;
  /** The pending acquisition's abort, while contending. */
  private contending: AbortController | null = null;
  /** The pending campaign() calls: settled when elected, on resign(), or when campaigning fails for good. */
  private waiters: Array<{ resolve: (result: { token: number }) => void; reject: (error: unknown) => void }> = [];
  /** Set while a lost leadership (or an interrupted campaign) waits for the client to resync before contending again. */
  private waitingForResync = false;
  private readonly detach: () => void;

  constructor(client: RegistryClient, name: string, options?: LeaderElectionOptions) {
    super();
    const resolved = SCHEMA.resolve(options);
    // The Lock checks the client and the name.
    this.lock = new Lock(client, name, { collection: resolved.collection, info: resolved.info === undefined ? (client as RegistryClient | null)?.owner : resolved.info });
    this.client = client;
    this.name = name;
    this.collection = resolved.collection;
    this.lock.on('error', (error) => this.fail(error));
    this.lock.on('lost', (error) => this.onLost(error));
    this.detach = this.listenToChannel();
    this.campaign = this.campaign.bind(this);
    this.resign = this.resign.bind(this);
    this.leader = this.leader.bind(this);
  }

  /** True while this candidate leads (from `elected` until `deposed`). */
  get isLeader(): boolean {
    return this.lock.held;
  }

  /** The fencing token of the current leadership; null when not leading. */
  get token(): number | null {
    return this.lock.token;
  }

  /**
   * Contends until elected; resolves with the leadership's fencing token (at once when already leading). Several
   * calls share one campaign. After losing the leadership through a dropped channel, the candidate campaigns again
   * by itself once its client resynced, until `resign()`. Rejects CANCELLED when resign() is called first, and with
   * the client's error when campaigning fails for good (DESTROYED: the client closed).
   */
  campaign(): Promise<{ token: number }> {
    this.running = true;
    const token = this.lock.token;
    if (token !== null) return Promise.resolve({ token });
    const elected = new Promise<{ token: number }>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (!this.contending && !this.waitingForResync) void this.contend();
    return elected;
  }

  /**
   * Stops campaigning: a pending campaign() rejects CANCELLED; a leader gives the leadership up (the next candidate
   * is elected) and emits `deposed` without an error. Resolves once done. campaign() may be called again after it.
   */
  async resign(): Promise<void> {
    this.running = false;
    this.waitingForResync = false;
    this.contending?.abort();
    this.settle(null, resignedError(this.name));
    if (!this.lock.held) return;
    try {
      await this.lock.release();
    } finally {
      // Not leading any more either way: a release that could not reach the registry is cleaned up by the Lock.
      log('%s resigned from %s/%s', this.client.owner, this.collection, this.name);
      this.emitSafely('deposed');
    }
  }

  /** The current leader's info (by default its eva), or null when there is no leader. */
  async leader(): Promise<unknown | null> {
    try {
      const value = (await this.client.getEntry(this.lock.key)) as LockValue | null;
      if (typeof value !== 'object' || value === null) return null;
      return value.info === undefined ? value.holder : value.info;
    } catch (err) {
      if (VnfError.is(err, 'NOT_FOUND')) return null;
      throw err;
    }
  }

  /** Stops listening to the client. Resign first to hand the leadership over at once. */
  dispose(): void {
    this.running = false;
    this.waitingForResync = false;
    this.contending?.abort();
    this.settle(null, resignedError(this.name));
    this.detach();
    this.lock.dispose();
    this.removeAllListeners();
  }

  /** Acquires the lock once; settles the waiting campaign() calls, or leaves them for the next resynced. */
  private async contend(): Promise<void> {
    const controller = new AbortController();
    this.contending = controller;
    try {
      log('%s campaigns in %s/%s', this.client.owner, this.collection, this.name);
      const { token } = await this.lock.acquire({ signal: controller.signal });
      if (this.contending === controller) this.contending = null;
      if (!this.running) {
        // Resigned while the answer was on its way: hand it over at once.
        await this.lock.release().catch((err: unknown) => log('%s: releasing after a late election failed: %O', this.client.owner, err));
        return;
      }
      log('%s elected in %s/%s, token %d', this.client.owner, this.collection, this.name, token);
      this.emitSafely('elected', token);
      this.settle({ token }, null);
    } catch (err) {
      if (this.contending === controller) this.contending = null;
      if (controller.signal.aborted) {
        // resign() settled the waiters; a campaign() since then contends afresh.
        if (this.running && this.waiters.length > 0 && !this.waitingForResync) void this.contend();
        return;
      }
      if (!this.running) return;
      if (VnfError.is(err, 'UNAVAILABLE') && this.canResync()) {
        // The channel dropped during the campaign: contend again once the client is back.
        this.waitingForResync = true;
        log('%s: campaign in %s/%s interrupted by the channel; resuming once it resynced', this.client.owner, this.collection, this.name);
        return;
      }
      const error = VnfError.is(err) ? err : new VnfError('INTERNAL', `LeaderElection "${this.name}": campaigning failed: ${String(err)}`, { cause: err });
      this.running = false;
      if (this.waiters.length > 0) this.settle(null, error);
      else this.fail(error);
    }
  }

  private settle(result: { token: number } | null, error: unknown): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) {
      if (result) waiter.resolve(result);
      else waiter.reject(error);
    }
  }

  private onLost(error: VnfError): void {
    log('%s deposed from %s/%s: %s', this.client.owner, this.collection, this.name, error.message);
    if (this.running && this.canResync()) this.waitingForResync = true;
    this.emitSafely('deposed', error);
  }

  private onResynced(): void {
    if (!this.waitingForResync || !this.running) return;
    this.waitingForResync = false;
    if (this.lock.held || this.contending) return;
    void this.contend();
  }

  private canResync(): boolean {
    return typeof (this.client as unknown as Partial<ChannelEvents>).on === 'function';
  }

  private listenToChannel(): () => void {
    const emitter = this.client as unknown as Partial<ChannelEvents>;
    if (typeof emitter.on !== 'function' || typeof emitter.off !== 'function') return () => undefined;
    const onResynced = (): void => this.onResynced();
    emitter.on('resynced', onResynced);
    return () => emitter.off!('resynced', onResynced);
  }

  private fail(error: VnfError): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else
      queueMicrotask(() => {
        throw error;
      });
  }

  private emitSafely<E extends 'elected' | 'deposed'>(event: E, ...args: Parameters<LeaderElectionEvents[E]>): void {
    callUserListener(this, () => (this.emit as (event: E, ...args: Parameters<LeaderElectionEvents[E]>) => boolean)(event, ...args), `the LeaderElection "${this.name}"`);
  }
}

function resignedError(name: string, cause?: unknown): VnfError {
  return new VnfError('CANCELLED', `LeaderElection "${name}": resign() was called before this candidate was elected.`, cause === undefined ? undefined : { cause });
}
