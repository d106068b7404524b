import {
  Global,
  VnfError,
  createLogger,
  type RegistryAccess,
  type RegistryChange,
  type RegistryStore,
  type RegistryWatchEvent,
  type RegistryWriteResult,
  type StoreWriteOptions,
} from '@vnf/core';
import {
  REGISTRY_CHANGE_NOTIFICATION,
  REGISTRY_SNAPSHOT_NOTIFICATION,
  REGISTRY_WAITED_NOTIFICATION,
  RegistryMethod,
  parseCancelParams,
  parseKeyParams,
  parseListParams,
  parseRemoveParams,
  parseUnwatchParams,
  parseValueParams,
  parseWatchParams,
  parseWriteParams,
  type GetResult,
  type ListResult,
  type StatusResult,
  type WatchResult,
  type WriteReply,
} from './registryProtocol';
import type { RegistrySession, SessionLimits, SessionNotify } from './sessionTypes';
import { FORWARD, PageJson, forwardingWatcher, type RawJson } from './registryJson';
import type { RegistryRules } from './RegistryRules';

const log = createLogger('registry:service');

/** A write waiting on the broker for its condition: what cancels it, and how it ended. */
interface Wait {
  controller: AbortController;
  /** The client cancelled it: a CANCELLED outcome is its reply to registry.cancel, not a notification. */
  cancelling: boolean;
  outcome: Promise<unknown>;
}

/** RegistryService's session: one RPC channel, speaking for `owner`. */
export class ServiceSession implements RegistrySession {
  private readonly watches = new Map<string, () => void>();
  private readonly waits = new Map<string, Wait>();
  private closing: Promise<void> | null = null;

  /** `release` detaches the session from its service; it returns true when this was the owner's last session. */
  constructor(
    private readonly store: RegistryStore,
    private readonly owner: string,
    private readonly notify: SessionNotify,
    private readonly limits: SessionLimits,
    private readonly release: () => boolean,
    private readonly access?: RegistryAccess,
  ) {
    this.handle = this.handle.bind(this);
    this.close = this.close.bind(this);
    this.detach = this.detach.bind(this);
  }

  async handle(method: string, params: unknown): Promise<unknown> {
    this.assertOpen(method);
    const access = this.access;
    switch (method) {
      case RegistryMethod.CREATE: {
        const p = parseValueParams(method, params);
        return status(await this.store.create(this.owner, p, p.value, access));
      }
      case RegistryMethod.GET: {
        const result: GetResult = { entry: await this.store.get(parseKeyParams(method, params), access) };
        return result;
      }
      case RegistryMethod.UPDATE: {
        const p = parseValueParams(method, params);
        return status(await this.store.update(this.owner, p, p.value, access));
      }
      case RegistryMethod.DELETE:
        return status(await this.store.delete(this.owner, parseKeyParams(method, params), access));
      case RegistryMethod.LIST:
        return this.list(method, params);
      case RegistryMethod.WATCH:
        return this.watch(method, params);
      case RegistryMethod.UNWATCH: {
        const { watchId } = parseUnwatchParams(method, params);
        this.watches.get(watchId)?.();
        this.watches.delete(watchId);
        return status(Global.OK);
      }
      case RegistryMethod.WRITE: {
        const { collection, name, value, waitId, ...options } = parseWriteParams(method, params);
        return this.waiting(method, waitId, (extra) => this.store.write(this.owner, { collection, name }, value, { ...options, ...extra } as StoreWriteOptions, access));
      }
      case RegistryMethod.REMOVE: {
        const { collection, name, waitId, ...options } = parseRemoveParams(method, params);
        return this.waiting(method, waitId, (extra) => this.store.remove(this.owner, { collection, name }, { ...options, ...extra }, access));
      }
      case RegistryMethod.CANCEL:
        return this.cancel(parseCancelParams(method, params).waitId);
      case RegistryMethod.APPLY_WILLS:
        await this.store.applyWills(this.owner, parseApplyWillsParams(method, params));
        return status(Global.OK);
      default:
        throw new VnfError('PROTOCOL', `Unknown registry method "${String(method)}". Check that the client and broker versions match.`);
    }
  }

  close(options: { applyWills?: boolean } = {}): Promise<void> {
    if (!this.closing) this.closing = this.shutDown(true, options.applyWills === true);
    return this.closing;
  }

  endWaits(): void {
    // Nobody could be told their outcome: they end as cancelled, and nothing is written for them.
    for (const wait of this.waits.values()) {
      wait.cancelling = true;
      wait.controller.abort();
    }
  }

  detach(): Promise<void> {
    if (!this.closing) this.closing = this.shutDown(false, false);
    return this.closing;
  }

  /**
   * Runs a write that may wait: answered at once when it does not wait (or its condition holds), else answered
   * WAITING, its outcome then pushed as a `registry.waited` notification. Waits are bounded per session.
   */
  private waiting(
    method: string,
    waitId: string | undefined,
    run: (extra: { signal?: AbortSignal; onWaiting?: () => void }) => Promise<RegistryWriteResult>,
  ): Promise<WriteReply> {
    if (waitId === undefined) return run({});
    if (this.waits.has(waitId)) throw new VnfError('INVALID_ARGUMENT', `Wait id "${waitId}" is already in use on this channel; pick a new id for each wait.`);
    if (this.waits.size >= this.limits.maxWaits) {
      throw new VnfError('TOO_LARGE', `This channel already has ${this.waits.size} writes waiting, the most allowed. Cancel waits it no longer needs.`, {
        details: { limit: this.limits.maxWaits },
      });
    }
    const controller = new AbortController();
    return new Promise<WriteReply>((resolve, reject) => {
      let answered = false;
      const outcome = run({
        signal: controller.signal,
        onWaiting: () => {
          answered = true;
          resolve({ status: 'WAITING' });
        },
      });
      const wait: Wait = { controller, cancelling: false, outcome };
      this.waits.set(waitId, wait);
      outcome.then(
        (result) => {
          this.waits.delete(waitId);
          if (!answered) resolve(result);
          else this.tellWaited(waitId, { waitId, result });
        },
        (err: unknown) => {
          this.waits.delete(waitId);
          if (!answered) reject(err);
          else if (!(wait.cancelling && VnfError.is(err, 'CANCELLED'))) {
            const error = VnfError.is(err) ? { code: err.code, message: err.message } : { code: 'INTERNAL', message: `The broker failed to handle ${method}; see its log.` };
            if (!VnfError.is(err)) log('a waiting %s of %s failed: %O', method, this.owner, err);
            this.tellWaited(waitId, { waitId, error });
          }
        },
      );
    });
  }

  private async cancel(waitId: string): Promise<{ cancelled: boolean }> {
    const wait = this.waits.get(waitId);
    if (!wait) return { cancelled: false };
    wait.cancelling = true;
    wait.controller.abort();
    try {
      await wait.outcome;
      // It wrote before the cancel reached it: its outcome went out as a notification.
      return { cancelled: false };
    } catch (err) {
      if (VnfError.is(err, 'CANCELLED')) return { cancelled: true };
      return { cancelled: false };
    }
  }

  private tellWaited(waitId: string, params: object): void {
    if (this.closing) return;
    try {
      this.notify(REGISTRY_WAITED_NOTIFICATION, JSON.stringify(params));
    } catch (err) {
      log('could not tell %s the outcome of wait %s: %O', this.owner, waitId, err);
    }
  }

  private async watch(method: string, params: unknown): Promise<WatchResult> {
    const { collection, watchId, ...options } = parseWatchParams(method, params);
    if (this.watches.has(watchId)) {
      throw new VnfError('INVALID_ARGUMENT', `Watch id "${watchId}" is already in use on this channel; pick a new id for each watch.`);
    }
    if (this.watches.size >= this.limits.maxWatches) {
      throw new VnfError('TOO_LARGE', `This channel already holds ${this.watches.size} watches, the most allowed. Stop watches it no longer needs.`, {
        details: { limit: this.limits.maxWatches },
      });
    }
    const budget = this.limits.watchBudget;
    if (budget && !budget.take()) {
      throw new VnfError('TOO_LARGE', 'This client already holds the most registry watches the broker allows one client. Stop watches it no longer needs.', {
        details: { limit: budget.limit },
      });
    }
    // Reserved before the store answers, so two concurrent calls with one id cannot both succeed. Whoever ends the
    // watch calls what `watches` holds for it, which gives its unit back to the client's budget exactly once.
    const reservation = (): void => budget?.give();
    this.watches.set(watchId, reservation);
    let unsubscribe: (() => void) & { revision?: number };
    // A snapshot or replayed change dropped while the watch started (its socket lags): the answer then gives no
    // revision, so the client resumes from where it was rather than past what it never got.
    let starting = true;
    let droppedWhileStarting = false;
    try {
      const quotedId = JSON.stringify(watchId);
      // Every broker watch carries revisions, so that its client can resume it from the change log.
      // Changes forwarded as text (the store calls [FORWARD] when it can); snapshots, or a store that cannot, as events.
      const sent = (delivered: boolean): void => {
        if (!delivered) droppedWhileStarting ||= starting;
      };
      const forward = forwardingWatcher((type, entryJson, revision) => sent(this.tellChange(quotedId, collection, type, entryJson, revision ?? 0)));
      const listener = Object.assign(
        (event: RegistryWatchEvent) => (event.type === 'snapshot' ? sent(this.tellSnapshot(quotedId, collection, event)) : forward(event)),
        { [FORWARD]: forward[FORWARD] },
      );
      unsubscribe = await this.store.watch(collection, listener, options, this.access);
      starting = false;
    } catch (err) {
      if (this.watches.get(watchId) === reservation) {
        this.watches.delete(watchId);
        reservation();
      }
      throw err;
    }
    if (this.watches.get(watchId) !== reservation) {
      // The session closed, or the watch was stopped, while the store was subscribing.
      unsubscribe();
      this.assertOpen(method);
      return status(Global.OK);
    }
    this.watches.set(watchId, () => {
      unsubscribe();
      budget?.give();
    });
    // RegistryRules says where the watch started: the client resumes from there if nothing comes before it drops.
    return unsubscribe.revision === undefined || droppedWhileStarting ? status(Global.OK) : { status: Global.OK, revision: unsubscribe.revision };
  }

  /** Returns false when the change was not sent (the channel drops notifications now). */
  private tellChange(quotedId: string, collection: string, type: RegistryChange['type'], entryJson: () => string, revision: number): boolean {
    const accepting = this.limits.accepting;
    // A channel dropping notifications (it lags, or its client is past its fan-out budget) costs nothing more:
    // a change seen by a thousand watches of a lagging client must not build a thousand texts to throw away.
    if (accepting && !accepting()) return false;
    // The entry's JSON shared with every other watch of the change: a large value seen by many watches is neither
    // parsed nor serialized once for each.
    const json = `{"watchId":${quotedId},"type":"${type}","entry":${entryJson()},"revision":${revision}}`;
    return this.push(REGISTRY_CHANGE_NOTIFICATION, json, collection);
  }

  /** A snapshot in pages of at most maxReplyBytes of entries, `more` on all but the last. */
  private tellSnapshot(quotedId: string, collection: string, snapshot: Extract<RegistryWatchEvent, { type: 'snapshot' }>): boolean {
    const head = `{"watchId":${quotedId},"revision":${snapshot.revision},"resync":${snapshot.resync},`;
    let page: string[] = [];
    let bytes = 0;
    let delivered = true;
    const flush = (more: boolean): void => {
      delivered = this.push(REGISTRY_SNAPSHOT_NOTIFICATION, `${head}"more":${more},"entries":[${page.join(',')}]}`, collection) && delivered;
      page = [];
      bytes = 0;
    };
    for (const entry of snapshot.entries) {
      const json = JSON.stringify(entry);
      if (page.length > 0 && bytes + json.length * 3 > this.limits.maxReplyBytes) flush(true);
      page.push(json);
      bytes += json.length * 3;
    }
    flush(false);
    return delivered;
  }

  private push(method: string, json: string, collection: string): boolean {
    // The broker's own code, not a user's: a failure to tell one client must neither reach the writer nor crash the broker.
    try {
      return this.notify(method, json) !== false;
    } catch (err) {
      log('could not tell %s of a change in %s: %O', this.owner, collection, err);
      return false;
    }
  }

  private async list(method: string, params: unknown): Promise<ListResult | RawJson> {
    const { collection, after } = parseListParams(method, params);
    const maxBytes = this.limits.maxReplyBytes;
    // The page as text from the stored JSON when the store can: a reply of large values is neither parsed nor
    // serialized again on its way out.
    const asJson = (this.store as Partial<Pick<RegistryRules, 'listPageJson'>>).listPageJson?.bind(this.store);
    if (after !== undefined) {
      const request = { after: after ?? undefined, maxEntries: this.limits.maxPageEntries, maxBytes };
      return asJson ? asJson(collection, request, this.access) : this.store.listPage(collection, request, this.access);
    }
    // A client that does not ask for pages gets the whole list, or TOO_LARGE: never a silently partial one.
    const whole = { maxEntries: Infinity, maxBytes };
    const page = asJson ? await asJson(collection, whole, this.access) : await this.store.listPage(collection, whole, this.access);
    if (page.next !== undefined) {
      throw new VnfError(
        'TOO_LARGE',
        `Collection ${collection} does not fit in one reply of ${maxBytes} bytes. List it in pages ({ collection, after: null }, ` +
          'then after: next), as WebSocketRegistryClient 0.2 does.',
        { details: { limit: maxBytes } },
      );
    }
    return page instanceof PageJson ? page : { entries: page.entries };
  }

  private async shutDown(removeEntries: boolean, applyWills: boolean): Promise<void> {
    for (const unsubscribe of this.watches.values()) unsubscribe();
    this.watches.clear();
    // A client that went away waits for nothing: its waits end before its entries go, so none writes after.
    for (const wait of this.waits.values()) wait.controller.abort();
    await Promise.allSettled([...this.waits.values()].map((wait) => wait.outcome));
    this.waits.clear();
    if (this.release() && removeEntries) {
      try {
        await this.store.removeOwner(this.owner, { applyWills });
      } catch (err) {
        log('could not remove the entries of %s: %O', this.owner, err);
      }
    }
  }

  private assertOpen(method: string): void {
    if (this.closing) throw new VnfError('DESTROYED', `Cannot handle ${method}: this registry session was closed. Open a new session.`);
  }
}

function status(value: StatusResult['status']): StatusResult {
  return { status: value };
}

/** `{}` (every will of the owner) or `{ entries: [{ collection, name, version }] }` (those entries, at those versions). */
function parseApplyWillsParams(method: string, params: unknown): Array<{ collection: string; name: string; version: number }> | undefined {
  const usage = `${method} takes {} or { entries: [{ collection, name, version }] } (at most ${MAX_APPLY_ENTRIES}).`;
  if (params === undefined || params === null) return undefined;
  if (typeof params !== 'object' || Array.isArray(params)) throw new VnfError('INVALID_ARGUMENT', usage);
  const keys = Object.keys(params);
  if (keys.length === 0) return undefined;
  const entries = (params as { entries?: unknown }).entries;
  if (keys.length !== 1 || !Array.isArray(entries) || entries.length > MAX_APPLY_ENTRIES) throw new VnfError('INVALID_ARGUMENT', usage);
  return entries.map((entry: unknown) => {
    const e = entry as Record<string, unknown> | null;
    if (typeof e !== 'object' || e === null || typeof e.collection !== 'string' || typeof e.name !== 'string' || typeof e.version !== 'number' || Object.keys(e).length !== 3) {
      throw new VnfError('INVALID_ARGUMENT', usage);
    }
    return { collection: e.collection, name: e.name, version: e.version };
  });
}

/** Entries one registry.applyWills may name: an owner holds at most maxEntriesPerOwner anyway. */
const MAX_APPLY_ENTRIES = 10_000;
