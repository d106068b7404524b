import { VnfError, callUserListener, createLogger, type RegistryEntry, type RegistrySnapshotWatcher, type RegistryWatchOptions, type RegistryWatcher, type Rpc } from '@vnf/core';
import type { EventEmitter } from 'eventemitter3';
import type { RegistryClientEvents } from './clientEvents';
import { callWatcher, reportError } from './clientSupport';
import { restoreError, tooOld } from './clientRequests';
import {
  REGISTRY_CHANGE_NOTIFICATION,
  REGISTRY_SNAPSHOT_NOTIFICATION,
  RegistryMethod,
  parseChangeNotification,
  parseSnapshotNotification,
  parseStatusResult,
  type WatchParams,
} from './registryProtocol';

const log = createLogger('registry:websocket');

interface Watch {
  collection: string;
  /** A plain watch's watcher gets changes as in 0.1; one with options gets RegistryWatchEvents. */
  watcher: RegistryWatcher | RegistrySnapshotWatcher;
  options: RegistryWatchOptions | undefined;
  /** The last store revision this watch saw (or started after): where it resumes from. Null: the broker gives none. */
  revision: number | null;
  /** Pages of a snapshot being received. */
  pages: RegistryEntry[] | null;
  /**
   * A snapshot watch whose snapshot has not been told yet (its pages may have been dropped while its socket lagged):
   * changes before it are not told, and it resumes with a fresh snapshot.
   */
  awaitingSnapshot: boolean;
  /**
   * Between a drop (or a lag) and the end of the old watch on the broker: what the old watch still sends is ignored,
   * since the resumed watch replays everything after `revision`, in order.
   */
  resuming: boolean;
}

/** What RemoteWatches needs of its client. */
export interface RemoteWatchesHost {
  readonly rpc: Rpc;
  readonly owner: string;
  /** The client, whose `error` and `resync` events watches report through. */
  readonly emitter: EventEmitter<RegistryClientEvents>;
}

/**
 * The watches of one WebSocketRegistryClient: their notifications (changes, snapshot pages), and their resumption
 * from the revision each last saw after a drop or a lag, so that a watch is told every change once, in order.
 */
export class RemoteWatches {
  private readonly watches = new Map<string, Watch>();
  private nextId = 1;
  /** The resumption running now, if any: the next one waits for it. */
  private resumptions: Promise<void> = Promise.resolve();

  /** `idPrefix` makes this client's watch ids its own on a channel other clients may share. */
  constructor(
    private readonly host: RemoteWatchesHost,
    private readonly idPrefix: string,
  ) {}

  /** Starts a watch on the broker; resolves with its stop function once the broker answered. */
  async add(collection: string, watcher: Watch['watcher'], options: RegistryWatchOptions | undefined, isClosing: () => boolean): Promise<() => Promise<void>> {
    const watchId = `${this.idPrefix}${this.nextId++}`;
    // Registered before the call: a change may be pushed before the call's answer arrives.
    const watch: Watch = { collection, watcher, options, revision: null, pages: null, resuming: false, awaitingSnapshot: options?.snapshot === true };
    this.watches.set(watchId, watch);
    try {
      const params: WatchParams = { collection, watchId, ...options };
      this.started(watch, await this.host.rpc.call(RegistryMethod.WATCH, params));
    } catch (err) {
      this.watches.delete(watchId);
      throw tooOld(err, 'watch options (snapshot, filter)', ['snapshot', 'filter', 'from']);
    }
    return async () => {
      if (!this.watches.delete(watchId) || isClosing()) return;
      try {
        await this.host.rpc.call(RegistryMethod.UNWATCH, { watchId });
      } catch (err) {
        // The watch is already silent locally; the broker ends it anyway when the channel closes.
        log('%s could not stop watch %s on the broker: %O', this.host.owner, watchId, err);
      }
    };
  }

  /** Forgets every watch (the client closes); returns their ids, to end them on the broker. */
  clear(): string[] {
    const ids = [...this.watches.keys()];
    this.watches.clear();
    return ids;
  }

  /** Every watch ignores what its broker watch still sends until it is resumed. */
  hold(): void {
    for (const watch of this.watches.values()) watch.resuming = true;
  }

  /**
   * Resumes every watch from the revision it last saw (after a reconnection, or a lag that dropped changes). One
   * resumption at a time: another asked for meanwhile (a second lag, a reconnection) runs after it, from where it got.
   */
  resumeAll(stale: () => boolean): Promise<void> {
    const run = this.resumptions.then(() => Promise.all([...this.watches].map(([watchId, watch]) => this.resume(watchId, watch, stale))));
    this.resumptions = run.then(
      () => undefined,
      () => undefined,
    );
    return this.resumptions;
  }

  onChange(params: unknown): void {
    const change = parseChangeNotification(params);
    if (!change) {
      log('%s dropped a malformed %s notification', this.host.owner, REGISTRY_CHANGE_NOTIFICATION);
      return;
    }
    // Another client sharing the channel owns any other watch id.
    const watch = this.watches.get(change.watchId);
    // Before its snapshot, a snapshot watch is told nothing: the snapshot it resumes with covers these changes.
    if (!watch || watch.resuming || watch.awaitingSnapshot) return;
    if (change.revision !== undefined) {
      // A change at or below what the watch saw is one the replay already told it.
      if (watch.revision !== null && change.revision <= watch.revision) return;
      watch.revision = change.revision;
    }
    if (!watch.options) callWatcher(this.host.emitter, watch.watcher as RegistryWatcher, { type: change.type, entry: change.entry });
    else callUserListener(this.host.emitter, () => (watch.watcher as RegistrySnapshotWatcher)({ type: change.type, entry: change.entry, revision: change.revision }), 'a registry watcher');
  }

  onSnapshot(params: unknown): void {
    const page = parseSnapshotNotification(params);
    if (!page) {
      log('%s dropped a malformed %s notification', this.host.owner, REGISTRY_SNAPSHOT_NOTIFICATION);
      return;
    }
    const watch = this.watches.get(page.watchId);
    if (!watch || watch.resuming) return;
    watch.pages = [...(watch.pages ?? []), ...page.entries];
    if (page.more) return;
    const entries = watch.pages;
    watch.pages = null;
    watch.awaitingSnapshot = false;
    watch.revision = page.revision;
    if (watch.options?.snapshot) {
      callUserListener(this.host.emitter, () => (watch.watcher as RegistrySnapshotWatcher)({ type: 'snapshot', entries, revision: page.revision, resync: page.resync }), 'a registry watcher');
    } else if (page.resync) {
      callUserListener(this.host.emitter, () => this.host.emitter.emit('resync', watch.collection), `the registry client of ${this.host.owner}`);
    }
  }

  /** A watch's answer: the revision it starts after, unless a change or snapshot already told it more. */
  private started(watch: Watch, result: unknown): void {
    parseStatusResult(RegistryMethod.WATCH, result);
    // Held again while it started (another lag or drop): what it was told was ignored, so it must resume from before.
    if (watch.resuming) return;
    const revision = (result as { revision?: unknown }).revision;
    if (typeof revision === 'number' && (watch.revision === null || revision > watch.revision)) watch.revision = revision;
  }

  private async resume(watchId: string, watch: Watch, stale: () => boolean): Promise<void> {
    try {
      // A channel that only blinked may still hold the watch; ending it first makes re-subscribing safe.
      await this.host.rpc.call(RegistryMethod.UNWATCH, { watchId });
      if (this.watches.get(watchId) !== watch) return;
      // The old watch is gone on the broker (its notifications came before this answer): what comes now is the new one's.
      watch.resuming = false;
      const params: WatchParams = { collection: watch.collection, watchId, ...watch.options };
      if (watch.revision === null || watch.pages !== null || watch.awaitingSnapshot) {
        // A broker that gives no revisions (before 0.2) cannot replay; nor can a snapshot cut off, or never told, be resumed.
        watch.pages = null;
        if (watch.revision === null && !watch.options?.snapshot) callUserListener(this.host.emitter, () => this.host.emitter.emit('resync', watch.collection), `the registry client of ${this.host.owner}`);
      } else {
        // A snapshot watch keeps `snapshot`: the broker sends a fresh one only when it cannot replay.
        params.from = watch.revision;
      }
      this.started(watch, await this.host.rpc.call(RegistryMethod.WATCH, params));
    } catch (err) {
      if (stale() || VnfError.is(err, 'UNAVAILABLE') || VnfError.is(err, 'DESTROYED')) return;
      reportError(this.host.emitter, restoreError(`the watch of "${watch.collection}"`, err), log);
    }
  }
}
