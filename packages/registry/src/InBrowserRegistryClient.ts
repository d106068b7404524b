import {
  Global,
  VnfError,
  callUserListener,
  createLogger,
  createMacrotaskQueue,
  type RegistryAccess,
  type RegistryClient,
  type RegistryEntry,
  type RegistryKey,
  type RegistryRemoveOptions,
  type RegistrySnapshotWatcher,
  type RegistryStore,
  type RegistryWatchEvent,
  type RegistryWatchOptions,
  type RegistryWatcher,
  type RegistryWriteOptions,
  type RegistryWriteResult,
  type Status,
} from '@vnf/core';
import { EventEmitter } from 'eventemitter3';
import type { RegistryClientEvents } from './clientEvents';
import { assertWatcher, callWatcher, destroyedError, bindClientMethods, linkedSignal } from './clientSupport';

const log = createLogger('registry:in-browser');

/**
 * The client InBrowserRegistry.connect returns: the store's operations on behalf of one owner, which other
 * clients may share. Like WebSocketRegistryClient, it remembers the entries it wrote and removes them when it
 * closes; the owner's remaining entries go when its last client closes.
 */
export class InBrowserRegistryClient extends EventEmitter<RegistryClientEvents> implements RegistryClient {
  readonly owner: string;
  private readonly store: RegistryStore;
  /** Detaches the client from its registry; returns true when it was the owner's last open client. */
  private readonly release: () => boolean;
  private readonly stops = new Set<() => Promise<void>>();
  /** The entries this client created or updated, by entryId: what its close removes. */
  private readonly written = new Map<string, RegistryKey>();
  /** Of those, the ones whose last write carried a will, with the version written (by entryId). */
  private readonly willed = new Map<string, RegistryKey & { version: number }>();
  // One queue for every watch of this client: changes are told on a later turn, in the order they happened.
  private readonly later = createMacrotaskQueue();
  /** Aborts every write still waiting when the client closes or is dropped. */
  private readonly waits = new AbortController();
  private closing: Promise<void> | null = null;

  constructor(
    store: RegistryStore,
    owner: string,
    release: () => boolean,
    private readonly access?: RegistryAccess,
  ) {
    super();
    this.store = store;
    this.owner = owner;
    this.release = release;
    bindClientMethods(this);
  }

  get closed(): boolean {
    return this.closing !== null;
  }

  async createEntry(key: RegistryKey, value: unknown): Promise<Status> {
    this.assertOpen('createEntry');
    const status = await this.store.create(this.owner, key, value, this.access);
    if (status === Global.OK) this.remember(key);
    return status;
  }

  async getEntry(key: RegistryKey): Promise<unknown> {
    this.assertOpen('getEntry');
    return (await this.store.get(key, this.access)).value;
  }

  async updateEntry(key: RegistryKey, value: unknown): Promise<Status> {
    this.assertOpen('updateEntry');
    const status = await this.forgetting(key, () => this.store.update(this.owner, key, value, this.access));
    this.remember(key);
    return status;
  }

  async deleteEntry(key: RegistryKey): Promise<Status> {
    this.assertOpen('deleteEntry');
    const status = await this.forgetting(key, () => this.store.delete(this.owner, key, this.access));
    this.written.delete(entryId(key));
    return status;
  }

  async listEntries(collection: string): Promise<RegistryEntry[]> {
    this.assertOpen('listEntries');
    return this.store.list(collection, this.access);
  }

  async write(key: RegistryKey, value: unknown, options: RegistryWriteOptions = {}): Promise<RegistryWriteResult> {
    this.assertOpen('write');
    const result = await this.store.write(this.owner, key, value, this.waitOptions(options, 'write'), this.access);
    if (result.status === Global.OK) {
      const id = entryId(key);
      // A retained entry outlives this client, so its close leaves it; any other it wrote, its close removes.
      if (options.retain) this.written.delete(id);
      else this.remember(key);
      if (options.will) this.willed.set(id, { collection: key.collection, name: key.name, version: result.version! });
      else this.willed.delete(id);
    }
    return result;
  }

  async remove(key: RegistryKey, options: RegistryRemoveOptions = {}): Promise<RegistryWriteResult> {
    this.assertOpen('remove');
    const result = await this.store.remove(this.owner, key, this.waitOptions(options, 'remove'), this.access);
    if (result.status === Global.OK) this.written.delete(entryId(key));
    return result;
  }

  watch(collection: string, watcher: RegistryWatcher, options?: RegistryWatchOptions & { snapshot?: false }): Promise<() => Promise<void>>;
  watch(collection: string, watcher: RegistrySnapshotWatcher, options: RegistryWatchOptions & { snapshot: true }): Promise<() => Promise<void>>;
  async watch(collection: string, watcher: RegistryWatcher | RegistrySnapshotWatcher, options?: RegistryWatchOptions): Promise<() => Promise<void>> {
    this.assertOpen('watch');
    assertWatcher(watcher);
    let active = true;
    const tell = (event: RegistryWatchEvent): void => {
      this.later(() => {
        if (active) callUserListener(this, () => (watcher as RegistrySnapshotWatcher)(event), 'a registry watcher');
      });
    };
    const unsubscribe =
      options === undefined
        ? await this.store.watch(collection, (change) => this.later(() => active && callWatcher(this, watcher as RegistryWatcher, change)), undefined, this.access)
        : await this.store.watch(collection, tell, { ...options }, this.access);
    const stop = async (): Promise<void> => {
      if (!active) return;
      active = false;
      this.stops.delete(stop);
      unsubscribe();
    };
    if (this.closing) {
      await stop();
      this.assertOpen('watch');
    }
    this.stops.add(stop);
    return stop;
  }

  close(options: { applyWills?: boolean } = {}): Promise<void> {
    if (!this.closing) this.closing = this.shutDown(options.applyWills === true ? 'wills' : 'clean');
    return this.closing;
  }

  /**
   * InBrowserRegistry.drop: the client's channel is lost, as a killed tab's would be (an in-page registry has no grace
   * to wait through): it emits `down`, its watches and waits end, and when it was its owner's last client the owner's
   * entries go, those with a will becoming their will.
   */
  dropUncleanly(): Promise<void> {
    if (this.closing) return this.closing;
    callUserListener(this, () => this.emit('down'), `the registry client of ${this.owner}`);
    this.closing = this.shutDown('unclean');
    return this.closing;
  }

  private async shutDown(how: 'clean' | 'wills' | 'unclean'): Promise<void> {
    this.waits.abort();
    // Own watches end first: the closing client is not told about its own entries going away.
    await Promise.all([...this.stops].map((stop) => stop()));
    const written = [...this.written].filter(([id]) => !(how === 'wills' && this.willed.has(id))).map(([, key]) => key);
    const wills = [...this.willed.values()];
    this.written.clear();
    this.willed.clear();
    try {
      // Only the wills of what this client wrote: other clients of the eva keep theirs.
      if (how === 'wills' && wills.length > 0) await this.store.applyWills(this.owner, wills);
      // The same as WebSocketRegistryClient's explicit deletes on close: another client of the owner may stay open.
      if (how !== 'unclean') {
        for (const key of written) {
          await this.store.delete(this.owner, key, this.access).catch((err: unknown) => {
            if (!VnfError.is(err, 'NOT_FOUND')) log('%s: could not delete an entry it wrote: %O', this.owner, err);
          });
        }
      }
      if (this.release()) await this.store.removeOwner(this.owner, { applyWills: how !== 'clean' });
    } catch (err) {
      log('could not remove the entries of %s: %O', this.owner, err);
    } finally {
      this.removeAllListeners();
    }
  }

  /** The caller's options, its wait also ended by this client's close. */
  private waitOptions<T extends RegistryRemoveOptions>(options: T, call: string): T {
    if (typeof options !== 'object' || options === null || !options.wait) return options;
    try {
      return { ...options, signal: linkedSignal(this.waits.signal, options.signal) };
    } catch (err) {
      throw VnfError.is(err) ? new VnfError(err.code, `${call}: ${err.message}`) : err;
    }
  }

  /** Runs an update or delete; an entry the store says is gone or not the owner's is no longer this client's. */
  private async forgetting(key: RegistryKey, operation: () => Promise<Status>): Promise<Status> {
    try {
      return await operation();
    } catch (err) {
      if (VnfError.is(err, 'NOT_FOUND') || VnfError.is(err, 'FORBIDDEN')) this.written.delete(entryId(key));
      throw err;
    }
  }

  /** Called after the store accepted the key, so it is a valid key. */
  private remember(key: RegistryKey): void {
    // Any write clears the entry's will; `write` marks it again when it carried one.
    this.willed.delete(entryId(key));
    this.written.set(entryId(key), { collection: key.collection, name: key.name });
  }

  private assertOpen(operation: string): void {
    if (this.closing) throw destroyedError(this.owner, operation);
  }
}

function entryId(key: RegistryKey): string {
  return JSON.stringify([key.collection, key.name]);
}
