import {
  Global,
  VnfError,
  callUserListener,
  validateEva,
  type ErrorEmitter,
  type RegistryChange,
  type RegistryEntry,
  type RegistryKey,
  type RegistryStore,
  type RegistryWatcher,
  type Status,
} from '@vnf/core';
import { validateKey, validateKeyPart } from './registryKey';
import { serializeValue } from './registryValue';
import { positiveInteger } from './options';


export interface MemoryRegistryStoreOptions {
  /** Largest value accepted, in bytes of UTF-8 JSON; larger ones are refused with TOO_LARGE. Default 65 536 (64 KiB). */
  maxValueBytes?: number;
  /** Most entries one owner may hold at once; one more is refused with TOO_LARGE. Default 1 000. */
  maxEntriesPerOwner?: number;
  /** Longest collection or entry name, in characters; longer ones are refused with INVALID_ARGUMENT. Default 256. */
  maxKeyLength?: number;
}

export const DEFAULT_MAX_VALUE_BYTES = 64 * 1024;
export const DEFAULT_MAX_ENTRIES_PER_OWNER = 1000;
export const DEFAULT_MAX_KEY_LENGTH = 256;

/** An entry as kept: the value only as JSON text, so nobody holds a reference into the store. */
interface StoredEntry {
  collection: string;
  name: string;
  owner: string;
  version: number;
  json: string;
}

/** The store has no `error` event: what its watchers throw is rethrown on a microtask by callUserListener. */
const UNHEARD: ErrorEmitter = { listenerCount: () => 0, emit: () => false };

/**
 * The registry's rules in one place, in memory: used by InBrowserRegistry and, through RegistryService,
 * by the broker. Methods are asynchronous so that a Redis-backed store can replace this one.
 *
 * Values are stored as JSON text and every value handed out (results, lists, changes) is a fresh copy.
 * Watchers are called synchronously, in the order changes happen; what a watcher throws never reaches the
 * writer nor keeps the other watchers from being told: it is rethrown on a microtask (the store has no `error`
 * event), as an EventEmitter with no error listener would. The registry clients guard their users' watchers
 * themselves, reporting to the client's `error` event.
 */
export class MemoryRegistryStore implements RegistryStore {
  readonly maxValueBytes: number;
  readonly maxEntriesPerOwner: number;
  readonly maxKeyLength: number;
  private readonly collections = new Map<string, Map<string, StoredEntry>>();
  private readonly byOwner = new Map<string, Set<StoredEntry>>();
  private readonly watchers = new Map<string, Set<RegistryWatcher>>();

  constructor(options: MemoryRegistryStoreOptions = {}) {
    this.maxValueBytes = positiveInteger(options.maxValueBytes, DEFAULT_MAX_VALUE_BYTES, 'maxValueBytes');
    this.maxEntriesPerOwner = positiveInteger(options.maxEntriesPerOwner, DEFAULT_MAX_ENTRIES_PER_OWNER, 'maxEntriesPerOwner');
    this.maxKeyLength = positiveInteger(options.maxKeyLength, DEFAULT_MAX_KEY_LENGTH, 'maxKeyLength');
  }

  async create(owner: string, key: RegistryKey, value: unknown): Promise<Status> {
    validateEva(owner, 'owner');
    const { collection, name } = validateKey(key, this.maxKeyLength);
    const json = serializeValue(value, this.maxValueBytes);
    const entries = this.collections.get(collection);
    if (entries?.has(name)) return Global.ALREADY_EXISTS;
    const owned = this.byOwner.get(owner);
    if (owned && owned.size >= this.maxEntriesPerOwner) {
      throw new VnfError(
        'TOO_LARGE',
        `${owner} already holds ${owned.size} registry entries, the most one owner may hold. Delete entries it no longer needs first.`,
        { details: { owner, limit: this.maxEntriesPerOwner } },
      );
    }
    const entry: StoredEntry = { collection, name, owner, version: 1, json };
    if (entries) entries.set(name, entry);
    else this.collections.set(collection, new Map([[name, entry]]));
    if (owned) owned.add(entry);
    else this.byOwner.set(owner, new Set([entry]));
    this.notify('added', entry);
    return Global.OK;
  }

  async get(key: RegistryKey): Promise<RegistryEntry> {
    return toEntry(this.find(validateKey(key, this.maxKeyLength)));
  }

  async update(owner: string, key: RegistryKey, value: unknown): Promise<Status> {
    validateEva(owner, 'owner');
    const entry = this.findOwned(owner, validateKey(key, this.maxKeyLength), 'update');
    entry.json = serializeValue(value, this.maxValueBytes);
    entry.version += 1;
    this.notify('updated', entry);
    return Global.OK;
  }

  async delete(owner: string, key: RegistryKey): Promise<Status> {
    validateEva(owner, 'owner');
    this.remove(this.findOwned(owner, validateKey(key, this.maxKeyLength), 'delete'));
    return Global.OK;
  }

  async list(collection: string): Promise<RegistryEntry[]> {
    validateKeyPart(collection, 'collection', this.maxKeyLength);
    const entries = [...(this.collections.get(collection)?.values() ?? [])];
    // Code-unit order, not locale order: the same on every machine and in every store implementation.
    return entries.sort((a, b) => compare(a.name, b.name)).map(toEntry);
  }

  async removeOwner(owner: string): Promise<void> {
    validateEva(owner, 'owner');
    const owned = this.byOwner.get(owner);
    if (!owned) return;
    const doomed = [...owned].sort((a, b) => compare(a.collection, b.collection) || compare(a.name, b.name));
    for (const entry of doomed) this.remove(entry);
  }

  async watch(collection: string, watcher: RegistryWatcher): Promise<() => void> {
    validateKeyPart(collection, 'collection', this.maxKeyLength);
    if (typeof watcher !== 'function') throw new VnfError('INVALID_ARGUMENT', 'watch takes a function called with each change.');
    // Each subscription is its own record, so watching twice with one function gives two independent watches.
    const own: RegistryWatcher = (change) => watcher(change);
    const set = this.watchers.get(collection) ?? new Set<RegistryWatcher>();
    set.add(own);
    this.watchers.set(collection, set);
    return () => {
      set.delete(own);
      if (set.size === 0 && this.watchers.get(collection) === set) this.watchers.delete(collection);
    };
  }

  private find(key: RegistryKey): StoredEntry {
    const entry = this.collections.get(key.collection)?.get(key.name);
    if (!entry) {
      throw new VnfError(
        'NOT_FOUND',
        `No registry entry "${key.name}" in collection "${key.collection}". Its owner may have deleted it or closed; list the collection to see what exists.`,
        { details: { collection: key.collection, name: key.name } },
      );
    }
    return entry;
  }

  private findOwned(owner: string, key: RegistryKey, operation: 'update' | 'delete'): StoredEntry {
    const entry = this.find(key);
    if (entry.owner !== owner) {
      throw new VnfError(
        'FORBIDDEN',
        `${owner} cannot ${operation} registry entry "${key.name}" in "${key.collection}": it belongs to ${entry.owner}. Only an entry's owner may change it.`,
        { details: { collection: key.collection, name: key.name, owner: entry.owner } },
      );
    }
    return entry;
  }

  private remove(entry: StoredEntry): void {
    const entries = this.collections.get(entry.collection);
    entries?.delete(entry.name);
    if (entries?.size === 0) this.collections.delete(entry.collection);
    const owned = this.byOwner.get(entry.owner);
    owned?.delete(entry);
    if (owned?.size === 0) this.byOwner.delete(entry.owner);
    this.notify('removed', entry);
  }

  private notify(type: RegistryChange['type'], entry: StoredEntry): void {
    const set = this.watchers.get(entry.collection);
    if (!set) return;
    // A copy: a watcher may stop its own or another watch while being told.
    for (const watcher of [...set]) {
      if (!set.has(watcher)) continue;
      callUserListener(UNHEARD, () => watcher({ type, entry: toEntry(entry) }), `a watcher of collection ${entry.collection}`);
    }
  }
}

function toEntry(entry: StoredEntry): RegistryEntry {
  return {
    collection: entry.collection,
    name: entry.name,
    value: JSON.parse(entry.json) as unknown,
    owner: entry.owner,
    version: entry.version,
  };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
