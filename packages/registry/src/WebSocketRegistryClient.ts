import {
  Global,
  VnfError,
  callUserListener,
  createLogger,
  validateEva,
  type RegistryClient,
  type RegistryEntry,
  type RegistryKey,
  type RegistryRemoveOptions,
  type RegistrySnapshotWatcher,
  type RegistryWatchOptions,
  type RegistryWatcher,
  type RegistryWriteOptions,
  type RegistryWriteResult,
  type Rpc,
  type Status,
} from '@vnf/core';
import { EventEmitter } from 'eventemitter3';
import type { RegistryClientEvents } from './clientEvents';
import { assertWatcher, destroyedError, reportError, bindClientMethods } from './clientSupport';
import { entryId, readOptions, readWatchOptions, restoreError, valueParams, wireOptions } from './clientRequests';
import { validateKey, validateKeyPart } from './registryKey';
import {
  REGISTRY_CHANGE_NOTIFICATION,
  REGISTRY_RESYNC_NOTIFICATION,
  REGISTRY_SNAPSHOT_NOTIFICATION,
  REGISTRY_WAITED_NOTIFICATION,
  RegistryMethod,
  parseGetResult,
  parseListResult,
  parseStatusResult,
  parseWaitedNotification,
  type KeyParams,
  type RemoveParams,
  type ValueParams,
  type WriteParams,
} from './registryProtocol';
import { RemoteWaits } from './RemoteWaits';
import { RemoteWatches } from './RemoteWatches';

const log = createLogger('registry:websocket');

/** Numbers the clients of this module copy; with a random tag, it makes each client's watch ids its own. */
let clientCount = 0;
const moduleTag = Math.random().toString(36).slice(2, 10);

/** An entry this client created, as last written: what it restores after a reconnection. */
interface OwnEntry {
  key: KeyParams;
  json: string;
}

/** What an entry written with `when` or `will` is: never re-created after a reconnection, but removed on close. */
interface HeldEntry {
  key: KeyParams;
  hasWill: boolean;
  /** The version written: close removes the entry only at it, so an entry that became its will (or changed hands) stays. */
  version: number;
}

/**
 * The registry client over the broker's RPC channel (`new WebSocketRpc(eva, factory)` or
 * `endpoint.getWebSocketRpc()`): every call is a `registry.*` RPC (see the README for the shapes).
 *
 * When the channel drops (`down`), the broker keeps this client's entries through its grace, then removes them
 * (applying wills). When it comes back (`up` after `down`) the client re-creates the entries it wrote with
 * createEntry/updateEntry (or an unconditional `write`), with the values it last wrote — never those written with
 * `when` or `will` — and resumes its watches from the store revision each last saw: the broker replays the changes
 * in between from its change log, or, past the log's history, sends one resync (a fresh snapshot for a
 * `snapshot: true` watch; the `resync` event for others). Then it emits `resynced`. An entry another owner took in
 * the meantime is given up and reported as a FORBIDDEN `error` event.
 */
export class WebSocketRegistryClient extends EventEmitter<RegistryClientEvents> implements RegistryClient {
  readonly owner: string;
  private readonly rpc: Rpc;
  private readonly entries = new Map<string, OwnEntry>();
  private readonly watches: RemoteWatches;
  /** Entries written with `when` or `will`, by entryId. */
  private readonly held = new Map<string, HeldEntry>();
  private readonly waits: RemoteWaits;
  private readonly detach: Array<() => void>;
  private wasDown = false;
  private resyncRun = 0;
  private closing: Promise<void> | null = null;

  constructor(rpc: Rpc) {
    super();
    if (
      typeof rpc !== 'object' ||
      rpc === null ||
      typeof rpc.call !== 'function' ||
      typeof rpc.onNotification !== 'function' ||
      typeof rpc.onStateChange !== 'function' ||
      typeof rpc.close !== 'function'
    ) {
      throw new VnfError(
        'INVALID_ARGUMENT',
        'WebSocketRegistryClient needs an Rpc: new WebSocketRpc(eva, factory) or endpoint.getWebSocketRpc().',
      );
    }
    validateEva(rpc.eva, 'rpc.eva');
    this.rpc = rpc;
    this.owner = rpc.eva;
    // Watch and wait ids must be unique on the channel, not only in this client: several clients may share one
    // channel (`endpoint.getWebSocketRpc()`), hence one broker session, and every client hears every notification.
    const idPrefix = `${moduleTag}.${(clientCount++).toString(36)}.`;
    this.watches = new RemoteWatches({ rpc, owner: rpc.eva, emitter: this }, idPrefix);
    this.waits = new RemoteWaits(rpc, rpc.eva, idPrefix);
    bindClientMethods(this);
    this.detach = [
      rpc.onNotification((method, params) => this.onNotification(method, params)),
      rpc.onStateChange((state) => this.onStateChange(state)),
    ];
  }

  get closed(): boolean {
    return this.closing !== null;
  }

  async createEntry(key: RegistryKey, value: unknown): Promise<Status> {
    this.assertOpen('createEntry');
    const params = valueParams(key, value);
    const status = parseStatusResult(RegistryMethod.CREATE, await this.rpc.call(RegistryMethod.CREATE, params));
    if (status === Global.OK) this.remember(params);
    return status;
  }

  async getEntry(key: RegistryKey): Promise<unknown> {
    this.assertOpen('getEntry');
    const params: KeyParams = validateKey(key, Infinity);
    return parseGetResult(RegistryMethod.GET, await this.rpc.call(RegistryMethod.GET, params)).value;
  }

  async updateEntry(key: RegistryKey, value: unknown): Promise<Status> {
    this.assertOpen('updateEntry');
    const params = valueParams(key, value);
    const status = await this.callForgetting(RegistryMethod.UPDATE, params);
    this.remember(params);
    return status;
  }

  async deleteEntry(key: RegistryKey): Promise<Status> {
    this.assertOpen('deleteEntry');
    const params: KeyParams = validateKey(key, Infinity);
    const status = await this.callForgetting(RegistryMethod.DELETE, params);
    this.forget(params);
    return status;
  }

  async write(key: RegistryKey, value: unknown, options: RegistryWriteOptions = {}): Promise<RegistryWriteResult> {
    this.assertOpen('write');
    const { signal, ...rest } = readOptions(options, 'write');
    const params: WriteParams = { ...valueParams(key, value), ...wireOptions(rest) };
    const result = await this.waits.call(RegistryMethod.WRITE, params, signal);
    if (result.status === Global.OK) {
      const id = entryId(params);
      this.forget(params);
      // Only a plain write is restored after a reconnection; a retained entry stays on the broker by itself.
      if (params.retain) return result;
      if (params.when === undefined && params.will === undefined) this.remember(params);
      else this.held.set(id, { key: { collection: params.collection, name: params.name }, hasWill: params.will !== undefined, version: result.version! });
    }
    return result;
  }

  async remove(key: RegistryKey, options: RegistryRemoveOptions = {}): Promise<RegistryWriteResult> {
    this.assertOpen('remove');
    const { signal, ...rest } = readOptions(options, 'remove');
    const params: RemoveParams = { ...validateKey(key, Infinity), ...wireOptions(rest) };
    const result = await this.waits.call(RegistryMethod.REMOVE, params, signal);
    if (result.status === Global.OK) this.forget(params);
    return result;
  }

  async listEntries(collection: string): Promise<RegistryEntry[]> {
    this.assertOpen('listEntries');
    validateKeyPart(collection, 'collection', Infinity);
    // Page by page: the broker bounds each reply, so a large collection never becomes one huge frame.
    const entries: RegistryEntry[] = [];
    let after: string | null = null;
    for (;;) {
      const page = parseListResult(RegistryMethod.LIST, await this.rpc.call(RegistryMethod.LIST, { collection, after }));
      entries.push(...page.entries);
      if (page.next === undefined) return entries;
      if (after !== null && page.next <= after) {
        throw new VnfError('PROTOCOL', `The broker's pages of ${collection} went backwards; check that the broker and client versions match.`);
      }
      after = page.next;
    }
  }

  watch(collection: string, watcher: RegistryWatcher, options?: RegistryWatchOptions & { snapshot?: false }): Promise<() => Promise<void>>;
  watch(collection: string, watcher: RegistrySnapshotWatcher, options: RegistryWatchOptions & { snapshot: true }): Promise<() => Promise<void>>;
  async watch(collection: string, watcher: RegistryWatcher | RegistrySnapshotWatcher, options?: RegistryWatchOptions): Promise<() => Promise<void>> {
    this.assertOpen('watch');
    validateKeyPart(collection, 'collection', Infinity);
    assertWatcher(watcher);
    return this.watches.add(collection, watcher, options === undefined ? undefined : readWatchOptions(options), () => this.closing !== null);
  }

  close(options: { applyWills?: boolean } = {}): Promise<void> {
    if (!this.closing) this.closing = this.shutDown(options.applyWills === true);
    return this.closing;
  }

  private async shutDown(applyWills: boolean): Promise<void> {
    for (const stop of this.detach) stop();
    // A channel shared with other clients stays open: this client's waits are cancelled on the broker, not left to win later.
    const waitIds = this.waits.ids();
    this.waits.failAll(() => destroyedError(this.owner, 'a waiting write'));
    await Promise.all(waitIds.map((waitId) => this.bestEffort(RegistryMethod.CANCEL, { waitId })));
    const watchIds = this.watches.clear();
    // Only the wills of what this client wrote, at the versions it wrote: other clients of the eva keep theirs.
    const wills = [...this.held.values()].filter((entry) => entry.hasWill).map(({ key, version }) => ({ ...key, version }));
    if (applyWills && wills.length > 0) await this.bestEffort(RegistryMethod.APPLY_WILLS, { entries: wills });
    // After applying wills, an entry that had one is its will now: it is not deleted.
    const own = [...this.entries.values()];
    const held = [...this.held.values()].filter((entry) => !(applyWills && entry.hasWill));
    this.entries.clear();
    this.held.clear();
    // Explicit deletes, not only closing the channel: a shared channel (endpoint.getWebSocketRpc()) stays
    // open after this client closes, and the broker keeps what the channel holds until it closes.
    await Promise.all([
      ...watchIds.map((watchId) => this.bestEffort(RegistryMethod.UNWATCH, { watchId })),
      ...own.map(({ key }) => this.bestEffort(RegistryMethod.DELETE, key)),
      ...held.map(({ key, version }) => this.bestEffort(RegistryMethod.REMOVE, { ...key, when: { version } })),
    ]);
    try {
      await this.rpc.close();
    } catch (err) {
      log('%s could not close its rpc channel: %O', this.owner, err);
    } finally {
      this.removeAllListeners();
    }
  }

  private async bestEffort(method: string, params: unknown): Promise<void> {
    try {
      await this.rpc.call(method, params);
    } catch (err) {
      log('%s: %s failed while closing (the broker cleans up when the channel closes): %O', this.owner, method, err);
    }
  }

  private onNotification(method: string, params: unknown): void {
    if (this.closing) return;
    switch (method) {
      case REGISTRY_RESYNC_NOTIFICATION:
        // The broker dropped change notifications to this socket while it lagged: every watch may have missed some.
        this.watches.hold();
        void this.resumeWatches(++this.resyncRun, false);
        return;
      case REGISTRY_CHANGE_NOTIFICATION:
        return this.watches.onChange(params);
      case REGISTRY_SNAPSHOT_NOTIFICATION:
        return this.watches.onSnapshot(params);
      case REGISTRY_WAITED_NOTIFICATION: {
        const waited = parseWaitedNotification(params);
        if (waited) this.waits.settle(waited);
        else log('%s dropped a malformed %s notification', this.owner, method);
        return;
      }
    }
  }

  private onStateChange(state: 'up' | 'down'): void {
    if (this.closing) return;
    if (state === 'down') {
      if (this.wasDown) return;
      this.wasDown = true;
      // The broker ends a channel's waits with its session: they cannot be told their outcome any more.
      this.waits.failAll(
        () =>
          new VnfError(
            'UNAVAILABLE',
            `The channel to the broker dropped while a write of ${this.owner} waited; the broker ends the wait, but it may have written just before the drop: check the entry once the client resynced.`,
          ),
      );
      this.watches.hold();
      callUserListener(this, () => this.emit('down'), `the registry client of ${this.owner}`);
    } else if (this.wasDown) {
      this.wasDown = false;
      void this.resync(++this.resyncRun);
    }
  }

  private async resync(run: number): Promise<void> {
    const stale = (): boolean => this.closing !== null || run !== this.resyncRun;
    // Entries before watches: the client's own watchers already know its entries and are not told they came back.
    await Promise.all([...this.entries.values()].map((entry) => this.restoreEntry(entry, stale)));
    if (stale()) return;
    await this.resumeWatches(run, true);
  }

  private async resumeWatches(run: number, reconnected: boolean): Promise<void> {
    const stale = (): boolean => this.closing !== null || run !== this.resyncRun;
    await this.watches.resumeAll(stale);
    if (reconnected && !stale()) callUserListener(this, () => this.emit('resynced'), `the registry client of ${this.owner}`);
  }

  private async restoreEntry(entry: OwnEntry, stale: () => boolean): Promise<void> {
    const params: ValueParams = { ...entry.key, value: JSON.parse(entry.json) as unknown };
    try {
      const status = parseStatusResult(RegistryMethod.CREATE, await this.rpc.call(RegistryMethod.CREATE, params));
      // Still there (the broker kept it through its grace): make sure it holds the last value written, without a
      // change for watchers when it does.
      if (status === Global.ALREADY_EXISTS) {
        const stored = parseGetResult(RegistryMethod.GET, await this.rpc.call(RegistryMethod.GET, entry.key));
        if (stored.owner !== this.owner || stored.retained || JSON.stringify(stored.value) !== entry.json) await this.rpc.call(RegistryMethod.UPDATE, params);
      }
    } catch (err) {
      if (stale() || VnfError.is(err, 'UNAVAILABLE') || VnfError.is(err, 'DESTROYED')) return;
      const id = entryId(entry.key);
      if (VnfError.is(err, 'FORBIDDEN') && this.entries.get(id) === entry) this.entries.delete(id);
      reportError(this, restoreError(`entry "${entry.key.name}" in "${entry.key.collection}"`, err), log);
    }
  }

  /** Calls an update or delete; an entry the broker says is gone or not ours is no longer restored. */
  private async callForgetting(method: string, params: KeyParams): Promise<Status> {
    try {
      return parseStatusResult(method, await this.rpc.call(method, params));
    } catch (err) {
      if (VnfError.is(err, 'NOT_FOUND') || VnfError.is(err, 'FORBIDDEN')) this.entries.delete(entryId(params));
      throw err;
    }
  }

  private forget(key: KeyParams): void {
    this.entries.delete(entryId(key));
    this.held.delete(entryId(key));
  }

  private remember(params: ValueParams): void {
    this.entries.set(entryId(params), {
      key: { collection: params.collection, name: params.name },
      json: JSON.stringify(params.value),
    });
  }

  private assertOpen(operation: string): void {
    if (this.closing) throw destroyedError(this.owner, operation);
  }
}

