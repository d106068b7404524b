import {
  Global,
  VnfError,
  callUserListener,
  createLogger,
  validateEva,
  type RegistryClient,
  type RegistryEntry,
  type RegistryKey,
  type RegistryWatcher,
  type Rpc,
  type Status,
} from '@vnf/core';
import { EventEmitter } from 'eventemitter3';
import type { RegistryClientEvents } from './clientEvents';
import { assertWatcher, callWatcher, destroyedError, reportError, bindClientMethods } from './clientSupport';
import { validateKey, validateKeyPart } from './registryKey';
import { serializeValue } from './registryValue';
import {
  REGISTRY_CHANGE_NOTIFICATION,
  REGISTRY_RESYNC_NOTIFICATION,
  RegistryMethod,
  parseChangeNotification,
  parseGetResult,
  parseListResult,
  parseStatusResult,
  type KeyParams,
  type ValueParams,
  type WatchParams,
} from './registryProtocol';

const log = createLogger('registry:websocket');

/** Numbers the clients of this module copy; with a random tag, it makes each client's watch ids its own. */
let clientCount = 0;
const moduleTag = Math.random().toString(36).slice(2, 10);

/** An entry this client created, as last written: what it restores after a reconnection. */
interface OwnEntry {
  key: KeyParams;
  json: string;
}

interface Watch {
  collection: string;
  watcher: RegistryWatcher;
}

/**
 * The registry client over the broker's RPC channel (`new WebSocketRpc(eva, factory)` or
 * `endpoint.getWebSocketRpc()`): every call is a `registry.*` RPC (see the README for the shapes).
 *
 * When the channel drops, the broker removes this client's entries and ends its watches. When it comes
 * back (`up` after `down`) the client restores them: it re-creates its own entries with the values it last
 * wrote and re-subscribes its watches, then emits `resynced`. Changes that happened while the channel was
 * down are not replayed; list the collection on `resynced` to catch up. An entry another owner took in the
 * meantime is given up and reported as a FORBIDDEN `error` event.
 */
export class WebSocketRegistryClient extends EventEmitter<RegistryClientEvents> implements RegistryClient {
  readonly owner: string;
  private readonly rpc: Rpc;
  private readonly entries = new Map<string, OwnEntry>();
  private readonly watches = new Map<string, Watch>();
  private readonly detach: Array<() => void>;
  /**
   * Watch ids must be unique on the channel, not only in this client: several clients may share one channel
   * (`endpoint.getWebSocketRpc()`), hence one broker session, and every client hears every notification.
   */
  private readonly watchIdPrefix = `${moduleTag}.${(clientCount++).toString(36)}.`;
  private nextWatchId = 1;
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
    this.entries.delete(entryId(params));
    return status;
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

  async watch(collection: string, watcher: RegistryWatcher): Promise<() => Promise<void>> {
    this.assertOpen('watch');
    validateKeyPart(collection, 'collection', Infinity);
    assertWatcher(watcher);
    const watchId = `${this.watchIdPrefix}${this.nextWatchId++}`;
    // Registered before the call: a change may be pushed before the call's answer arrives.
    this.watches.set(watchId, { collection, watcher });
    try {
      const params: WatchParams = { collection, watchId };
      parseStatusResult(RegistryMethod.WATCH, await this.rpc.call(RegistryMethod.WATCH, params));
    } catch (err) {
      this.watches.delete(watchId);
      throw err;
    }
    return async () => {
      if (!this.watches.delete(watchId) || this.closing) return;
      try {
        await this.rpc.call(RegistryMethod.UNWATCH, { watchId });
      } catch (err) {
        // The watch is already silent locally; the broker ends it anyway when the channel closes.
        log('%s could not stop watch %s on the broker: %O', this.owner, watchId, err);
      }
    };
  }

  close(): Promise<void> {
    if (!this.closing) this.closing = this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    for (const stop of this.detach) stop();
    const watchIds = [...this.watches.keys()];
    this.watches.clear();
    const own = [...this.entries.values()];
    this.entries.clear();
    // Explicit deletes, not only closing the channel: a shared channel (endpoint.getWebSocketRpc()) stays
    // open after this client closes, and the broker keeps what the channel holds until it closes.
    await Promise.all([
      ...watchIds.map((watchId) => this.bestEffort(RegistryMethod.UNWATCH, { watchId })),
      ...own.map(({ key }) => this.bestEffort(RegistryMethod.DELETE, key)),
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
    if (method === REGISTRY_RESYNC_NOTIFICATION) {
      // The broker dropped change notifications to this socket while it lagged: every watch may have missed some.
      for (const collection of new Set([...this.watches.values()].map((w) => w.collection))) {
        callUserListener(this, () => this.emit('resync', collection), `the registry client of ${this.owner}`);
      }
      return;
    }
    if (method !== REGISTRY_CHANGE_NOTIFICATION) return;
    const change = parseChangeNotification(params);
    if (!change) {
      log('%s dropped a malformed %s notification', this.owner, method);
      return;
    }
    // Another client sharing the channel owns any other watch id.
    const watch = this.watches.get(change.watchId);
    if (watch) callWatcher(this, watch.watcher, { type: change.type, entry: change.entry });
  }

  private onStateChange(state: 'up' | 'down'): void {
    if (this.closing) return;
    if (state === 'down') {
      this.wasDown = true;
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
    await Promise.all([...this.watches].map(([watchId, watch]) => this.restoreWatch(watchId, watch, stale)));
    if (!stale()) callUserListener(this, () => this.emit('resynced'), `the registry client of ${this.owner}`);
  }

  private async restoreEntry(entry: OwnEntry, stale: () => boolean): Promise<void> {
    const params: ValueParams = { ...entry.key, value: JSON.parse(entry.json) as unknown };
    try {
      const status = parseStatusResult(RegistryMethod.CREATE, await this.rpc.call(RegistryMethod.CREATE, params));
      // Still there (the broker had not dropped the old channel yet): make sure it holds the last value written.
      if (status === Global.ALREADY_EXISTS) await this.rpc.call(RegistryMethod.UPDATE, params);
    } catch (err) {
      if (stale() || VnfError.is(err, 'UNAVAILABLE') || VnfError.is(err, 'DESTROYED')) return;
      const id = entryId(entry.key);
      if (VnfError.is(err, 'FORBIDDEN') && this.entries.get(id) === entry) this.entries.delete(id);
      reportError(this, restoreError(`entry "${entry.key.name}" in "${entry.key.collection}"`, err), log);
    }
  }

  private async restoreWatch(watchId: string, watch: Watch, stale: () => boolean): Promise<void> {
    try {
      // A channel that only blinked may still hold the watch; ending it first makes re-subscribing safe.
      await this.rpc.call(RegistryMethod.UNWATCH, { watchId });
      if (this.watches.get(watchId) !== watch) return;
      const params: WatchParams = { collection: watch.collection, watchId };
      await this.rpc.call(RegistryMethod.WATCH, params);
    } catch (err) {
      if (stale() || VnfError.is(err, 'UNAVAILABLE') || VnfError.is(err, 'DESTROYED')) return;
      reportError(this, restoreError(`the watch of "${watch.collection}"`, err), log);
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

/** Checks the key and that the value is plain JSON here, so nothing is silently changed on its way to the broker (which checks sizes). */
function valueParams(key: RegistryKey, value: unknown): ValueParams {
  const { collection, name } = validateKey(key, Infinity);
  const json = serializeValue(value, Infinity);
  return { collection, name, value: JSON.parse(json) as unknown };
}

function entryId(key: KeyParams): string {
  return JSON.stringify([key.collection, key.name]);
}

function restoreError(what: string, cause: unknown): VnfError {
  const code = VnfError.is(cause) ? cause.code : 'INTERNAL';
  return new VnfError(
    code,
    `After reconnecting, ${what} could not be restored (${cause instanceof Error ? cause.message : String(cause)}). ` +
      'Create it again if you still need it.',
    { cause },
  );
}
