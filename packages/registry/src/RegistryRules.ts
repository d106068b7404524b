import {
  Global,
  VnfError,
  callUserListener,
  utf8Length,
  validateEva,
  type ErrorEmitter,
  type OwnerQuota,
  type RegistryChange,
  type RegistryEntry,
  type RegistryKey,
  type RegistryPage,
  type RegistryPageRequest,
  type RegistryStorage,
  type RegistryStore,
  type RegistryWatcher,
  type Status,
  type StorageChange,
  type StoredRecord,
} from '@vnf/core';
import { validateKey, validateKeyPart } from './registryKey';
import { FORWARD, PageJson, changeOf, entryJson, toEntry, type ForwardingWatcher } from './registryJson';
import { serializeValue } from './registryValue';

/** The limits RegistryRules enforces (MemoryRegistryStoreOptions, resolved). */
export interface RegistryLimits {
  maxValueBytes: number;
  maxEntriesPerOwner: number;
  maxKeyLength: number;
  maxBytesPerOwner: number;
}

/** How often an update or delete re-reads and tries again when another write got between its read and its write. */
const MAX_ATTEMPTS = 16;

/** The store has no `error` event: what its watchers throw is rethrown on a microtask by callUserListener. */
const UNHEARD: ErrorEmitter = { listenerCount: () => 0, emit: () => false };

/**
 * The registry's rules in one layer, over any RegistryStorage: keys and values validated, values stored as JSON
 * text and every value handed out a fresh copy, only an entry's owner may change it, the per-owner limits, versions,
 * and watchers told each change in the order the storage made them. The storage does only what must be atomic
 * (conditional writes with the quota check), so a shared storage (Redis) cannot drift from these rules.
 *
 * What a watcher throws never reaches the writer nor keeps the other watchers from being told: it is rethrown on a
 * microtask (the store has no `error` event). The registry clients guard their users' watchers themselves.
 */
export class RegistryRules implements RegistryStore {
  readonly maxValueBytes: number;
  readonly maxEntriesPerOwner: number;
  readonly maxKeyLength: number;
  readonly maxBytesPerOwner: number;
  private readonly quota: OwnerQuota;
  private readonly watchers = new Map<string, { set: Set<RegistryWatcher>; stop: Promise<() => void> }>();

  constructor(
    readonly storage: RegistryStorage,
    limits: RegistryLimits,
  ) {
    this.maxValueBytes = limits.maxValueBytes;
    this.maxEntriesPerOwner = limits.maxEntriesPerOwner;
    this.maxKeyLength = limits.maxKeyLength;
    this.maxBytesPerOwner = limits.maxBytesPerOwner;
    this.quota = { maxEntries: limits.maxEntriesPerOwner, maxBytes: limits.maxBytesPerOwner };
  }

  async create(owner: string, key: RegistryKey, value: unknown): Promise<Status> {
    validateEva(owner, 'owner');
    const valid = validateKey(key, this.maxKeyLength);
    const json = serializeValue(value, this.maxValueBytes);
    const outcome = await this.storage.write(valid, { owner, json, bytes: utf8Length(json) }, { absent: true }, this.quota);
    if (outcome.ok) return Global.OK;
    if (outcome.reason === 'condition') return Global.ALREADY_EXISTS;
    throw this.overQuota(owner, outcome.entries >= this.maxEntriesPerOwner ? 'entries' : 'bytes', outcome.bytes + utf8Length(json));
  }

  async get(key: RegistryKey): Promise<RegistryEntry> {
    const valid = validateKey(key, this.maxKeyLength);
    return toEntry(this.found(valid, await this.storage.read(valid)));
  }

  async update(owner: string, key: RegistryKey, value: unknown): Promise<Status> {
    validateEva(owner, 'owner');
    const valid = validateKey(key, this.maxKeyLength);
    let json: string | null = null;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const current = this.owned(owner, valid, 'update', await this.storage.read(valid));
      json ??= serializeValue(value, this.maxValueBytes);
      const bytes = utf8Length(json);
      const outcome = await this.storage.write(valid, { owner, json, bytes }, { version: current.version }, this.quota);
      if (outcome.ok) return Global.OK;
      if (outcome.reason === 'quota') throw this.overQuota(owner, 'bytes', outcome.bytes - current.bytes + bytes);
      // Another write came between the read and this one: read again (the last writer wins, as before).
    }
    throw this.contended(valid);
  }

  async delete(owner: string, key: RegistryKey): Promise<Status> {
    validateEva(owner, 'owner');
    const valid = validateKey(key, this.maxKeyLength);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const current = this.owned(owner, valid, 'delete', await this.storage.read(valid));
      if ((await this.storage.write(valid, null, { version: current.version })).ok) return Global.OK;
    }
    throw this.contended(valid);
  }

  async list(collection: string): Promise<RegistryEntry[]> {
    validateKeyPart(collection, 'collection', this.maxKeyLength);
    // Code-unit order, not locale order: the same on every machine and in every storage.
    return (await this.storage.page(collection, undefined, Infinity, Infinity)).records.map(toEntry);
  }

  async listPage(collection: string, page: RegistryPageRequest): Promise<RegistryPage> {
    const { records, next } = await this.page(collection, page);
    const entries = records.map(toEntry);
    return next === undefined ? { entries } : { entries, next };
  }

  /**
   * As listPage, as the JSON text of `{ entries, next }` built from the stored values without parsing them (the
   * broker's replies; RegistryService uses it when the store has it). The text is built when first read: a caller
   * that only needed `next` (a whole list too large for one reply) builds nothing.
   */
  async listPageJson(collection: string, page: RegistryPageRequest): Promise<PageJson> {
    const { records, next } = await this.page(collection, page);
    return new PageJson(() => {
      const entries = records.map(entryJson).join(',');
      return next === undefined ? `{"entries":[${entries}]}` : `{"entries":[${entries}],"next":${JSON.stringify(next)}}`;
    }, next);
  }

  async removeOwner(owner: string): Promise<void> {
    validateEva(owner, 'owner');
    // Removed on purpose: a lease left running would only remove nothing later.
    await this.storage.endLease(owner);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const owned = await this.storage.ownedBy(owner);
      if (owned.length === 0) return;
      for (const record of owned) await this.storage.write(record, null, { version: record.version });
    }
  }

  async watch(collection: string, watcher: RegistryWatcher): Promise<() => void> {
    validateKeyPart(collection, 'collection', this.maxKeyLength);
    if (typeof watcher !== 'function') throw new VnfError('INVALID_ARGUMENT', 'watch takes a function called with each change.');
    // Each subscription is its own record, so watching twice with one function gives two independent watches.
    const own: RegistryWatcher = (change) => watcher(change);
    const forward = (watcher as Partial<ForwardingWatcher>)[FORWARD];
    if (forward) (own as ForwardingWatcher)[FORWARD] = forward;
    let watched = this.watchers.get(collection);
    if (!watched) {
      const set = new Set<RegistryWatcher>();
      watched = { set, stop: this.storage.subscribe(collection, (change) => this.tell(set, change)) };
      this.watchers.set(collection, watched);
    }
    watched.set.add(own);
    await watched.stop;
    const current = watched;
    return () => {
      current.set.delete(own);
      if (current.set.size > 0 || this.watchers.get(collection) !== current) return;
      this.watchers.delete(collection);
      void current.stop.then((stop) => stop());
    };
  }

  /** Tells the watchers of a collection one change, in the order the storage made them. */
  private tell(set: Set<RegistryWatcher>, change: StorageChange): void {
    if (set.size === 0) return;
    const record: StoredRecord = change.record;
    // Serialized once for every watcher that forwards it (the broker's sessions); parsed only for one that reads it.
    let json = '';
    const shared = (): string => (json ||= entryJson(record));
    const type: RegistryChange['type'] = change.type;
    // A copy: a watcher may stop its own or another watch while being told.
    for (const watcher of [...set]) {
      if (!set.has(watcher)) continue;
      const forward = (watcher as Partial<ForwardingWatcher>)[FORWARD];
      if (forward) callUserListener(UNHEARD, () => forward(type, shared), `a watcher of collection ${record.collection}`);
      else callUserListener(UNHEARD, () => watcher(changeOf(type, record, shared)), `a watcher of collection ${record.collection}`);
    }
  }

  private page(collection: string, page: RegistryPageRequest): Promise<{ records: StoredRecord[]; next?: string }> {
    validateKeyPart(collection, 'collection', this.maxKeyLength);
    const { after, maxEntries, maxBytes } = page;
    if (after !== undefined && typeof after !== 'string') throw new VnfError('INVALID_ARGUMENT', 'listPage: after must be an entry name.');
    if (!(maxEntries > 0) || !(maxBytes > 0)) throw new VnfError('INVALID_ARGUMENT', 'listPage: maxEntries and maxBytes must be positive.');
    return this.storage.page(collection, after, maxEntries, maxBytes);
  }

  private found(key: RegistryKey, record: StoredRecord | undefined): StoredRecord {
    if (record) return record;
    throw new VnfError(
      'NOT_FOUND',
      `No registry entry "${key.name}" in collection "${key.collection}". Its owner may have deleted it or closed; list the collection to see what exists.`,
      { details: { collection: key.collection, name: key.name } },
    );
  }

  private owned(owner: string, key: RegistryKey, operation: 'update' | 'delete', record: StoredRecord | undefined): StoredRecord {
    const entry = this.found(key, record);
    if (entry.owner !== owner) {
      throw new VnfError(
        'FORBIDDEN',
        `${owner} cannot ${operation} registry entry "${key.name}" in "${key.collection}": it belongs to ${entry.owner}. Only an entry's owner may change it.`,
        { details: { collection: key.collection, name: key.name, owner: entry.owner } },
      );
    }
    return entry;
  }

  private overQuota(owner: string, what: 'entries' | 'bytes', wouldHold: number): VnfError {
    if (what === 'entries') {
      return new VnfError(
        'TOO_LARGE',
        `${owner} already holds ${this.maxEntriesPerOwner} registry entries, the most one owner may hold. Delete entries it no longer needs first.`,
        { details: { owner, limit: this.maxEntriesPerOwner } },
      );
    }
    return new VnfError(
      'TOO_LARGE',
      `${owner} would hold ${wouldHold} bytes of registry values, more than the ${this.maxBytesPerOwner} one owner may hold. ` +
        'Store less, or delete entries it no longer needs first.',
      { details: { owner, limit: this.maxBytesPerOwner } },
    );
  }

  private contended(key: RegistryKey): VnfError {
    return new VnfError(
      'UNAVAILABLE',
      `Registry entry "${key.name}" in "${key.collection}" changed ${MAX_ATTEMPTS} times while this write was being made; retry it.`,
      { details: { collection: key.collection, name: key.name } },
    );
  }
}
