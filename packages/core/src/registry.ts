import type { Status } from './status';

/** Names one registry entry. */
export interface RegistryKey {
  collection: string;
  name: string;
}

/** A registry entry as stored and listed. */
export interface RegistryEntry {
  collection: string;
  name: string;
  value: unknown;
  /** The eva of the client that created the entry; only it may update or delete it. */
  owner: string;
  /** Starts at 1, grows by one with each update. */
  version: number;
}

/** What a watcher is told. `removed` carries the entry as it was. */
export interface RegistryChange {
  type: 'added' | 'updated' | 'removed';
  entry: RegistryEntry;
}

export type RegistryWatcher = (change: RegistryChange) => void;

/** A client of a registry. Every method works unbound: `client.createEntry.bind(null, key, value)`. */
export interface RegistryClient {
  /** The eva that owns what this client creates. */
  readonly owner: string;
  /** Creates an entry owned by this client: Global.OK, or Global.ALREADY_EXISTS (the existing entry is kept). */
  createEntry(key: RegistryKey, value: unknown): Promise<Status>;
  /** The entry's value; rejects with NOT_FOUND when absent. */
  getEntry(key: RegistryKey): Promise<unknown>;
  /** Replaces the value of an own entry: Global.OK; rejects NOT_FOUND or FORBIDDEN. */
  updateEntry(key: RegistryKey, value: unknown): Promise<Status>;
  /** Deletes an own entry: Global.OK; rejects NOT_FOUND or FORBIDDEN. */
  deleteEntry(key: RegistryKey): Promise<Status>;
  /** Every entry of a collection, ordered by name. */
  listEntries(collection: string): Promise<RegistryEntry[]>;
  /**
   * Watches a collection. Resolves once the watch is active with a function that stops it.
   * Changes made after the promise resolves are all reported, in order.
   */
  watch(collection: string, watcher: RegistryWatcher): Promise<() => Promise<void>>;
  /** Closes the client: its entries are removed (watchers are told) and its watches end. Idempotent. */
  close(): Promise<void>;
}

/** Which page of a collection `RegistryStore.listPage` returns. */
export interface RegistryPageRequest {
  after?: string;
  maxEntries: number;
  maxBytes: number;
}

export interface RegistryPage {
  entries: RegistryEntry[];
  next?: string;
}

/**
 * Where the registry's rules live: one implementation shared by InBrowserRegistry and the broker.
 * Asynchronous so that a Redis-backed store can replace the in-memory one (docs/design.md, Routing and scale).
 */
export interface RegistryStore {
  create(owner: string, key: RegistryKey, value: unknown): Promise<Status>;
  /** Rejects NOT_FOUND when absent. */
  get(key: RegistryKey): Promise<RegistryEntry>;
  update(owner: string, key: RegistryKey, value: unknown): Promise<Status>;
  delete(owner: string, key: RegistryKey): Promise<Status>;
  list(collection: string): Promise<RegistryEntry[]>;
  /**
   * One page of `list`, in the same order: the entries after the name `after` (from the start when absent), at
   * most `maxEntries` of them and about `maxBytes` of JSON (always at least one entry). `next` is the name to
   * pass as `after` for the following page, absent on the last page. A broker answers lists in pages, so that a
   * large collection never builds one huge reply. Pages are not a snapshot: changes between them show or not.
   */
  listPage(collection: string, page: RegistryPageRequest): Promise<RegistryPage>;
  /** Removes every entry of `owner` (its client closed or its channel was lost); watchers are told. */
  removeOwner(owner: string): Promise<void>;
  /** Subscribes to a collection's changes; returns the unsubscribe function. */
  watch(collection: string, watcher: RegistryWatcher): Promise<() => void>;
}
