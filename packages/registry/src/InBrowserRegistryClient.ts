import {
  Global,
  VnfError,
  createLogger,
  createMacrotaskQueue,
  type RegistryClient,
  type RegistryEntry,
  type RegistryKey,
  type RegistryStore,
  type RegistryWatcher,
  type Status,
} from '@vnf/core';
import { EventEmitter } from 'eventemitter3';
import type { RegistryClientEvents } from './clientEvents';
import { assertWatcher, callWatcher, destroyedError, bindClientMethods } from './clientSupport';

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
  // One queue for every watch of this client: changes are told on a later turn, in the order they happened.
  private readonly later = createMacrotaskQueue();
  private closing: Promise<void> | null = null;

  constructor(store: RegistryStore, owner: string, release: () => boolean) {
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
    const status = await this.store.create(this.owner, key, value);
    if (status === Global.OK) this.remember(key);
    return status;
  }

  async getEntry(key: RegistryKey): Promise<unknown> {
    this.assertOpen('getEntry');
    return (await this.store.get(key)).value;
  }

  async updateEntry(key: RegistryKey, value: unknown): Promise<Status> {
    this.assertOpen('updateEntry');
    const status = await this.forgetting(key, () => this.store.update(this.owner, key, value));
    this.remember(key);
    return status;
  }

  async deleteEntry(key: RegistryKey): Promise<Status> {
    this.assertOpen('deleteEntry');
    const status = await this.forgetting(key, () => this.store.delete(this.owner, key));
    this.written.delete(entryId(key));
    return status;
  }

  async listEntries(collection: string): Promise<RegistryEntry[]> {
    this.assertOpen('listEntries');
    return this.store.list(collection);
  }

  async watch(collection: string, watcher: RegistryWatcher): Promise<() => Promise<void>> {
    this.assertOpen('watch');
    assertWatcher(watcher);
    let active = true;
    const unsubscribe = await this.store.watch(collection, (change) => {
      this.later(() => {
        if (active) callWatcher(this, watcher, change);
      });
    });
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

  close(): Promise<void> {
    if (!this.closing) this.closing = this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    // Own watches end first: the closing client is not told about its own entries going away.
    await Promise.all([...this.stops].map((stop) => stop()));
    const written = [...this.written.values()];
    this.written.clear();
    try {
      // The same as WebSocketRegistryClient's explicit deletes on close: another client of the owner may stay open.
      for (const key of written) {
        await this.store.delete(this.owner, key).catch((err: unknown) => log('%s: could not delete an entry it wrote: %O', this.owner, err));
      }
      if (this.release()) await this.store.removeOwner(this.owner);
    } catch (err) {
      log('could not remove the entries of %s: %O', this.owner, err);
    } finally {
      this.removeAllListeners();
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
    this.written.set(entryId(key), { collection: key.collection, name: key.name });
  }

  private assertOpen(operation: string): void {
    if (this.closing) throw destroyedError(this.owner, operation);
  }
}

function entryId(key: RegistryKey): string {
  return JSON.stringify([key.collection, key.name]);
}
