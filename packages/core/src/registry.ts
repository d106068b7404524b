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
  /** Present (true) only for a retained entry: it outlives its writer, and `owner` is its last writer. */
  retained?: true;
}

/** What a watcher is told. `removed` carries the entry as it was. */
export interface RegistryChange {
  type: 'added' | 'updated' | 'removed';
  entry: RegistryEntry;
  /**
   * The store-wide revision of the write that made this change. Present only for watches started with options
   * (`snapshot` or `filter`): a plain watch's changes are exactly what they were in 0.1.
   */
  revision?: number;
}

/**
 * What a `snapshot: true` watch is told first: the collection's entries (those matching the filter) as they were at
 * store revision `revision`; every change after it follows. `resync: true` when the watch came back after a
 * reconnection from further than the change log's history: this snapshot replaces everything seen before.
 */
export interface RegistrySnapshot {
  type: 'snapshot';
  entries: RegistryEntry[];
  revision: number;
  resync: boolean;
}

export type RegistryWatchEvent = RegistryChange | RegistrySnapshot;

export type RegistryWatcher = (change: RegistryChange) => void;

/** A `snapshot: true` watch's listener: a RegistrySnapshot first (and after a resync), then changes. */
export type RegistrySnapshotWatcher = (event: RegistryWatchEvent) => void;

export interface RegistryWatchOptions {
  /** Tell the current entries first (one RegistrySnapshot event), then every change after them, with no gap and no duplicate. */
  snapshot?: boolean;
  /**
   * Only entries whose value contains these fields (subset match on JSON objects, nested objects matched the same
   * way, arrays and other values by equality). Runs on the broker: unmatched changes never cross the wire. An entry
   * updated out of the filter is told as `removed` (with its value as it now is), one updated into it as `added`.
   */
  filter?: Record<string, unknown>;
}

/**
 * When a conditional write applies: `null`, the entry is absent; `{ version }`, the entry is at this version;
 * `{ fields }`, the stored value is an object containing these fields (the subset match of RegistryWatchOptions.filter).
 */
export type RegistryCondition = null | { version: number } | { fields: Record<string, unknown> };

/** What an entry becomes when its writer's session ends uncleanly: this value (the entry is then retained), or removed. */
export type RegistryWill = { value: unknown } | { remove: true };

export interface RegistryRemoveOptions {
  /** Remove only when this holds; otherwise resolve CONFLICT. Without it, remove unconditionally (the entry must exist). */
  when?: RegistryCondition;
  /** Wait until `when` holds, then remove atomically. Several waiters on one change: exactly one wins, first come first served. */
  wait?: boolean;
  /** With `wait`: reject TIMEOUT after this long, ms. Default: wait until the signal fires or the client closes. */
  timeoutMs?: number;
  /** With `wait`: abort the wait; the call rejects CANCELLED and nothing is written. */
  signal?: AbortSignal;
}

export interface RegistryWriteOptions extends RegistryRemoveOptions {
  /** Applied when this client's session ends uncleanly (after the broker's grace); any later write to the entry clears it. */
  will?: RegistryWill;
  /** The entry outlives its writer (it is not removed when its writer goes); the registry's `authorize` hook must allow it. */
  retain?: boolean;
}

/**
 * The outcome of `write` or `remove`. OK: written; `version` is the entry's new version (for a removal, the version
 * removed) and `revision` the store-wide revision of the write: it only grows, across every entry, so it serves as a
 * fencing token. CONFLICT: `when` did not hold and nothing was written; `version` and `revision` are the entry's
 * current ones, null when it is absent.
 */
export interface RegistryWriteResult {
  status: 'OK' | 'CONFLICT';
  version: number | null;
  revision: number | null;
}

/** A client of a registry. Every method works unbound: `client.createEntry.bind(null, key, value)`. */
export interface RegistryClient {
  /** The eva that owns what this client creates. */
  readonly owner: string;
  /** True once `close()` was called (or the client was ended): every method then rejects DESTROYED. */
  readonly closed: boolean;
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
  watch(collection: string, watcher: RegistryWatcher, options?: RegistryWatchOptions & { snapshot?: false }): Promise<() => Promise<void>>;
  /** A `snapshot: true` watch: its listener is told a RegistrySnapshot first, then every change after it. */
  watch(collection: string, watcher: RegistrySnapshotWatcher, options: RegistryWatchOptions & { snapshot: true }): Promise<() => Promise<void>>;
  /**
   * Writes an entry (creates it, or replaces its value), under a condition when `when` is given: resolves OK or
   * CONFLICT (never rejects for a condition that does not hold). Rejects FORBIDDEN for an entry of another owner.
   * Entries written with `when` or `will` are not re-created by the client after a reconnection.
   */
  write(key: RegistryKey, value: unknown, options?: RegistryWriteOptions): Promise<RegistryWriteResult>;
  /** Removes an entry, under a condition when `when` is given: OK or CONFLICT; rejects NOT_FOUND without `when` when absent. */
  remove(key: RegistryKey, options?: RegistryRemoveOptions): Promise<RegistryWriteResult>;
  /**
   * Closes the client: its entries are removed (watchers are told), its watches and waits end. A clean close does
   * not apply wills; `applyWills: true` applies them as an unclean end would. Idempotent.
   */
  close(options?: { applyWills?: boolean }): Promise<void>;
}

/** Who asks the registry to do something: the `authorize` hook's first argument. */
export interface RegistrySubject {
  eva: string;
  /** On the broker: the socket's role ('endpoint' or 'rpc'). */
  role?: string;
  /** On the broker: the authToken the socket's hello carried. */
  auth?: string;
  remoteAddress?: string;
}

/** What is asked: `read` (get, list, watch) or `write` (create, update, delete, write, remove). */
export type RegistryAction = 'read' | 'write';

/** What it is asked of: an entry (`name` given) or a collection. */
export interface RegistryResource {
  collection: string;
  name?: string;
  /** For a write: the entry is, or would become, retained. */
  retained?: boolean;
  /** For a write to an existing entry: its owner (for a retained entry, its last writer). */
  owner?: string;
  /**
   * In a room collection (@vnf/registry's ROOM_COLLECTION_PREFIX, `vnf.room:<room>`): the room's name, for every
   * action. A hook decides who may join which room by the writes of `m:<eva>` entries it allows.
   */
  room?: string;
  /**
   * For a write of a room's state entry (`s:<key>`): the writer owns a live `m:<its eva>` entry of the room, as the
   * registry checked. `defaultAuthorize` allows such a write (retained, whoever wrote the entry last); a hook may
   * still refuse it. Set by the registry only, never by a client.
   */
  roomMember?: boolean;
}

/**
 * Decides what a subject may do in the registry: one hook for the broker, InBrowserRegistry and the recipes built on
 * them. `defaultAuthorize` is the rule when none is given; a hook usually allows what it knows and defers the rest to it.
 */
export type RegistryAuthorize = (subject: RegistrySubject, action: RegistryAction, resource: RegistryResource) => boolean | Promise<boolean>;

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

/** What a store asks before it reads or writes for a caller: the `authorize` hook bound to the caller's subject. */
export type RegistryAccess = (action: RegistryAction, resource: RegistryResource) => boolean | Promise<boolean>;

/** RegistryWriteOptions as a store takes them: `onWaiting` is called once if the write starts waiting for its condition. */
export interface StoreWriteOptions extends RegistryWriteOptions {
  onWaiting?: () => void;
}

export interface StoreRemoveOptions extends RegistryRemoveOptions {
  onWaiting?: () => void;
}

/** RegistryWatchOptions as a store takes them: `from` resumes a watch after the store revision it last saw. */
export interface StoreWatchOptions extends RegistryWatchOptions {
  /**
   * Replay the changes after this store revision from the change log, then go on live. When the log no longer holds
   * them all, the watcher gets one RegistrySnapshot with `resync: true` (with no entries unless `snapshot` is set).
   */
  from?: number;
}

/**
 * Where the registry's rules live: one implementation shared by InBrowserRegistry and the broker.
 * Asynchronous so that a Redis-backed store can replace the in-memory one (docs/design.md, Routing and scale).
 */
export interface RegistryStore {
  /* `access` (every method's last argument): what the caller may do; default, defaultAuthorize for `{ eva: owner }`. */
  create(owner: string, key: RegistryKey, value: unknown, access?: RegistryAccess): Promise<Status>;
  /** Rejects NOT_FOUND when absent. */
  get(key: RegistryKey, access?: RegistryAccess): Promise<RegistryEntry>;
  update(owner: string, key: RegistryKey, value: unknown, access?: RegistryAccess): Promise<Status>;
  delete(owner: string, key: RegistryKey, access?: RegistryAccess): Promise<Status>;
  /** RegistryClient.write, for `owner`; a wait ends (CANCELLED) when `options.signal` fires. */
  write(owner: string, key: RegistryKey, value: unknown, options?: StoreWriteOptions, access?: RegistryAccess): Promise<RegistryWriteResult>;
  /** RegistryClient.remove, for `owner`. */
  remove(owner: string, key: RegistryKey, options?: StoreRemoveOptions, access?: RegistryAccess): Promise<RegistryWriteResult>;
  /**
   * Applies now the wills of `owner`'s entries that carry one (RegistryClient.close({ applyWills: true })): with
   * `only`, just those entries, each if it is still at that version (what one client of a shared eva wrote).
   */
  applyWills(owner: string, only?: Array<RegistryKey & { version: number }>): Promise<void>;
  list(collection: string, access?: RegistryAccess): Promise<RegistryEntry[]>;
  /**
   * One page of `list`, in the same order: the entries after the name `after` (from the start when absent), at
   * most `maxEntries` of them and about `maxBytes` of JSON (always at least one entry). `next` is the name to
   * pass as `after` for the following page, absent on the last page. A broker answers lists in pages, so that a
   * large collection never builds one huge reply. Pages are not a snapshot: changes between them show or not.
   */
  listPage(collection: string, page: RegistryPageRequest, access?: RegistryAccess): Promise<RegistryPage>;
  /**
   * Removes every entry of `owner` that is not retained (its client closed or its channel was lost); watchers are
   * told. With `applyWills` (an unclean end) an entry with a will becomes its will instead.
   */
  removeOwner(owner: string, options?: { applyWills?: boolean }): Promise<void>;
  /**
   * Subscribes to a collection's changes; returns the unsubscribe function. With options (snapshot, filter, from) the
   * watcher gets RegistryWatchEvents carrying revisions; without, RegistryChanges as in 0.1. With options, the
   * returned function's `revision` is the store revision the watch starts after (what a resume passes as `from`).
   */
  watch(collection: string, watcher: RegistryWatcher, options?: undefined, access?: RegistryAccess): Promise<() => void>;
  watch(collection: string, watcher: RegistrySnapshotWatcher, options: StoreWatchOptions, access?: RegistryAccess): Promise<(() => void) & { revision?: number }>;
}

/**
 * The registry's rule when no `authorize` hook is given: anyone may read; an entry may be written (created, updated,
 * removed) only by its owner; retained entries may be written by nobody (an operator allows them with a hook), except
 * a room's state entries by the room's members (`roomMember`, set by the registry once it checked the membership).
 */
export function defaultAuthorize(subject: RegistrySubject, action: RegistryAction, resource: RegistryResource): boolean {
  if (action === 'read') return true;
  if (resource.roomMember === true) return true;
  if (resource.retained) return false;
  return resource.owner === undefined || resource.owner === subject.eva;
}
