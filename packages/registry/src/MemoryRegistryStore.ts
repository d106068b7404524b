import {
  Global,
  VnfError,
  callUserListener,
  utf8Length,
  validateEva,
  type ErrorEmitter,
  type RegistryChange,
  type RegistryEntry,
  type RegistryKey,
  type RegistryPage,
  type RegistryPageRequest,
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
  /** Most bytes of values (UTF-8 JSON) one owner may hold in all; a write past it is refused with TOO_LARGE. Default 1 MiB. */
  maxBytesPerOwner?: number;
}

export const DEFAULT_MAX_VALUE_BYTES = 64 * 1024;
export const DEFAULT_MAX_ENTRIES_PER_OWNER = 1000;
export const DEFAULT_MAX_KEY_LENGTH = 256;
export const DEFAULT_MAX_BYTES_PER_OWNER = 1024 * 1024;
/** What an entry adds to a listed page besides its value's JSON and names: field names, version, punctuation. */
const ENTRY_OVERHEAD_BYTES = 64;
/** The most bytes one UTF-16 unit of a name takes in JSON (`\uXXXX`): page sizes are upper bounds. */
const MAX_ESCAPED_UNIT_BYTES = 6;

/** An entry as kept: the value only as JSON text, so nobody holds a reference into the store. */
interface StoredEntry {
  collection: string;
  name: string;
  owner: string;
  version: number;
  json: string;
  /** UTF-8 bytes of `json`. */
  bytes: number;
}

/**
 * Where a change from this store carries its entry already serialized (JSON text, shared by every watcher of the
 * change). Watchers that forward changes over the wire read it instead of serializing `entry` again.
 */
export const ENTRY_JSON: unique symbol = Symbol('vnf.registry.entryJson');

/** The entry of `change` as JSON text: shared by the store when it can, else serialized here. */
export function changeEntryJson(change: RegistryChange): string {
  return (change as RegistryChange & { [ENTRY_JSON]?: string })[ENTRY_JSON] ?? JSON.stringify(change.entry);
}

/**
 * A result already serialized: the broker puts `json` into its reply as it is. Anything else that serializes it
 * (JSON.stringify) gets the value it stands for.
 */
export class RawJson {
  private text: string | null = null;

  constructor(private readonly build: () => string) {}

  get json(): string {
    return (this.text ??= this.build());
  }

  toJSON(): unknown {
    return JSON.parse(this.json) as unknown;
  }
}

/** A page of a collection as JSON text, with the name to list after for the next page (none: the last page). */
export class PageJson extends RawJson {
  constructor(
    build: () => string,
    readonly next: string | undefined,
  ) {
    super(build);
  }
}

const FORWARD: unique symbol = Symbol('vnf.registry.forward');

/** A watcher that only passes changes on as text: the store calls its `[FORWARD]` with the entry's JSON, when it can. */
interface ForwardingWatcher extends RegistryWatcher {
  [FORWARD]: (type: RegistryChange['type'], entryJson: () => string) => void;
}

/**
 * A watcher for any store that passes each change on as JSON text (the broker's sessions): this store calls
 * `forward` without building a change object for it, and `entryJson()` serializes the entry once for every such
 * watcher of the change. Another store calls the returned function with a change, as any watcher.
 */
export function forwardingWatcher(forward: (type: RegistryChange['type'], entryJson: () => string) => void): RegistryWatcher {
  const watcher = ((change: RegistryChange) => forward(change.type, () => changeEntryJson(change))) as ForwardingWatcher;
  watcher[FORWARD] = forward;
  return watcher;
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
  readonly maxBytesPerOwner: number;
  /** Bytes of values each owner holds, for maxBytesPerOwner. */
  private readonly bytesByOwner = new Map<string, number>();
  private readonly collections = new Map<string, Map<string, StoredEntry>>();
  private readonly byOwner = new Map<string, Set<StoredEntry>>();
  private readonly watchers = new Map<string, Set<RegistryWatcher>>();

  constructor(options: MemoryRegistryStoreOptions = {}) {
    this.maxValueBytes = positiveInteger(options.maxValueBytes, DEFAULT_MAX_VALUE_BYTES, 'maxValueBytes');
    this.maxEntriesPerOwner = positiveInteger(options.maxEntriesPerOwner, DEFAULT_MAX_ENTRIES_PER_OWNER, 'maxEntriesPerOwner');
    this.maxKeyLength = positiveInteger(options.maxKeyLength, DEFAULT_MAX_KEY_LENGTH, 'maxKeyLength');
    this.maxBytesPerOwner = positiveInteger(options.maxBytesPerOwner, DEFAULT_MAX_BYTES_PER_OWNER, 'maxBytesPerOwner');
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
    const bytes = utf8Length(json);
    this.charge(owner, bytes, 0);
    const entry: StoredEntry = { collection, name, owner, version: 1, json, bytes };
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
    const json = serializeValue(value, this.maxValueBytes);
    const bytes = utf8Length(json);
    this.charge(owner, bytes, entry.bytes);
    entry.json = json;
    entry.bytes = bytes;
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

  async listPage(collection: string, page: RegistryPageRequest): Promise<RegistryPage> {
    const { stored, next } = this.page(collection, page);
    const entries = stored.map(toEntry);
    return next === undefined ? { entries } : { entries, next };
  }

  /**
   * As listPage, as the JSON text of `{ entries, next }` built from the stored values without parsing them (the
   * broker's replies; RegistryService uses it when the store has it). The text is built when first read: a caller
   * that only needed `next` (a whole list too large for one reply) builds nothing.
   */
  async listPageJson(collection: string, page: RegistryPageRequest): Promise<PageJson> {
    const { stored, next } = this.page(collection, page);
    return new PageJson(() => {
      const entries = stored.map(entryJson).join(',');
      return next === undefined ? `{"entries":[${entries}]}` : `{"entries":[${entries}],"next":${JSON.stringify(next)}}`;
    }, next);
  }

  private page(collection: string, page: RegistryPageRequest): { stored: StoredEntry[]; next?: string } {
    validateKeyPart(collection, 'collection', this.maxKeyLength);
    const { after, maxEntries, maxBytes } = page;
    if (after !== undefined && typeof after !== 'string') throw new VnfError('INVALID_ARGUMENT', 'listPage: after must be an entry name.');
    if (!(maxEntries > 0) || !(maxBytes > 0)) throw new VnfError('INVALID_ARGUMENT', 'listPage: maxEntries and maxBytes must be positive.');
    const names = [...(this.collections.get(collection)?.keys() ?? [])].sort(compare);
    const entries = this.collections.get(collection);
    let i = after === undefined ? 0 : upperBound(names, after);
    const stored: StoredEntry[] = [];
    let bytes = 0;
    for (; i < names.length && stored.length < maxEntries; i++) {
      const entry = entries!.get(names[i])!;
      const nameUnits = entry.name.length + entry.owner.length + entry.collection.length;
      const size = entry.bytes + nameUnits * MAX_ESCAPED_UNIT_BYTES + ENTRY_OVERHEAD_BYTES;
      if (stored.length > 0 && bytes + size > maxBytes) break;
      bytes += size;
      stored.push(entry);
    }
    return i < names.length ? { stored, next: names[i - 1] } : { stored };
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
    const forward = (watcher as Partial<ForwardingWatcher>)[FORWARD];
    if (forward) (own as ForwardingWatcher)[FORWARD] = forward;
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
    this.charge(entry.owner, 0, entry.bytes);
    this.notify('removed', entry);
  }

  /** Accounts a value of `added` bytes replacing one of `removed` bytes; throws TOO_LARGE past maxBytesPerOwner. */
  private charge(owner: string, added: number, removed: number): void {
    const held = (this.bytesByOwner.get(owner) ?? 0) - removed;
    if (added > 0 && held + added > this.maxBytesPerOwner) {
      throw new VnfError(
        'TOO_LARGE',
        `${owner} would hold ${held + added} bytes of registry values, more than the ${this.maxBytesPerOwner} one owner may hold. ` +
          'Store less, or delete entries it no longer needs first.',
        { details: { owner, limit: this.maxBytesPerOwner } },
      );
    }
    if (held + added === 0) this.bytesByOwner.delete(owner);
    else this.bytesByOwner.set(owner, held + added);
  }

  private notify(type: RegistryChange['type'], entry: StoredEntry): void {
    const set = this.watchers.get(entry.collection);
    if (!set) return;
    // The entry as it is now, once for every watcher: one told later (InBrowserRegistry delivers on a later turn)
    // must not see a later write. Strings are immutable, so holding them is the snapshot.
    const now: StoredEntry = { ...entry };
    // Serialized once for every watcher that forwards it (the broker's sessions); parsed only for one that reads it.
    let json = '';
    const shared = (): string => (json ||= entryJson(now));
    // A copy: a watcher may stop its own or another watch while being told.
    for (const watcher of [...set]) {
      if (!set.has(watcher)) continue;
      const forward = (watcher as Partial<ForwardingWatcher>)[FORWARD];
      if (forward) callUserListener(UNHEARD, () => forward(type, shared), `a watcher of collection ${entry.collection}`);
      else callUserListener(UNHEARD, () => watcher(changeOf(type, now, shared)), `a watcher of collection ${entry.collection}`);
    }
  }
}

/**
 * A change as a watcher gets it: `entry` is its own copy, parsed when first read, so a watcher that only forwards
 * the change (through `changeEntryJson`) never parses the value, and a large change seen by many watchers is not
 * parsed once for each.
 */
function changeOf(type: RegistryChange['type'], now: StoredEntry, shared: () => string): RegistryChange {
  let entry: RegistryEntry | undefined;
  const change = { type } as RegistryChange;
  Object.defineProperty(change, 'entry', { enumerable: true, get: () => (entry ??= toEntry(now)) });
  Object.defineProperty(change, ENTRY_JSON, { enumerable: false, get: shared });
  return change;
}

/** The JSON of an entry as `toEntry` then JSON.stringify would give it, without parsing the stored value. */
function entryJson(stored: StoredEntry): string {
  const { collection, name, owner, version, json } = stored;
  return `{"collection":${JSON.stringify(collection)},"name":${JSON.stringify(name)},"value":${json},"owner":${JSON.stringify(owner)},"version":${version}}`;
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

/** Index of the first name greater than `name` in sorted `names`. */
function upperBound(names: string[], name: string): number {
  let lo = 0;
  let hi = names.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (names[mid] <= name) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
