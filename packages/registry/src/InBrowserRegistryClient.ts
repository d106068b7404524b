import {
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
import { assertWatcher, callWatcher, destroyedError } from './clientSupport';

const log = createLogger('registry:in-browser');

/** The client InBrowserRegistry.connect returns: the store's operations on behalf of one owner. */
export class InBrowserRegistryClient extends EventEmitter<RegistryClientEvents> implements RegistryClient {
  readonly owner: string;
  private readonly store: RegistryStore;
  private readonly onClosed: () => void;
  private readonly stops = new Set<() => Promise<void>>();
  // One queue for every watch of this client: changes are told on a later turn, in the order they happened.
  private readonly later = createMacrotaskQueue();
  private closing: Promise<void> | null = null;

  constructor(store: RegistryStore, owner: string, onClosed: () => void) {
    super();
    this.store = store;
    this.owner = owner;
    this.onClosed = onClosed;
    // The seed calls these unbound: `registryClient.createEntry.bind(null, key, value)`.
    this.createEntry = this.createEntry.bind(this);
    this.getEntry = this.getEntry.bind(this);
    this.updateEntry = this.updateEntry.bind(this);
    this.deleteEntry = this.deleteEntry.bind(this);
    this.listEntries = this.listEntries.bind(this);
    this.watch = this.watch.bind(this);
    this.close = this.close.bind(this);
  }

  get closed(): boolean {
    return this.closing !== null;
  }

  async createEntry(key: RegistryKey, value: unknown): Promise<Status> {
    this.assertOpen('createEntry');
    return this.store.create(this.owner, key, value);
  }

  async getEntry(key: RegistryKey): Promise<unknown> {
    this.assertOpen('getEntry');
    return (await this.store.get(key)).value;
  }

  async updateEntry(key: RegistryKey, value: unknown): Promise<Status> {
    this.assertOpen('updateEntry');
    return this.store.update(this.owner, key, value);
  }

  async deleteEntry(key: RegistryKey): Promise<Status> {
    this.assertOpen('deleteEntry');
    return this.store.delete(this.owner, key);
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
    try {
      await this.store.removeOwner(this.owner);
    } catch (err) {
      log('could not remove the entries of %s: %O', this.owner, err);
    } finally {
      this.onClosed();
      this.removeAllListeners();
    }
  }

  private assertOpen(operation: string): void {
    if (this.closing) throw destroyedError(this.owner, operation);
  }
}
