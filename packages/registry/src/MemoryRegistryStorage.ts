import {
  VnfError,
  option,
  optionsSchema,
  type ChangesSince,
  type OwnerQuota,
  type RecordValue,
  type RegistryKey,
  type RegistryStorage,
  type StorageChange,
  type StoredRecord,
  type WriteCondition,
  type WriteOutcome,
} from '@vnf/core';

export interface MemoryRegistryStorageOptions {
  /**
   * Changes the log keeps for `changesSince`; older ones are dropped (a reader that far behind reads a snapshot).
   * @default 10000
   */
  maxLogEntries?: number;
  /**
   * Bytes of values (UTF-8 JSON) the log may hold; the oldest changes are dropped past it, as past maxLogEntries.
   * @default 33554432 (32 MiB)
   */
  maxLogBytes?: number;
}

export const DEFAULT_MAX_LOG_ENTRIES = 10_000;
export const DEFAULT_MAX_LOG_BYTES = 32 * 1024 * 1024;

const SCHEMA = optionsSchema('MemoryRegistryStorage', {
  maxLogEntries: option.integer({ min: 1, default: DEFAULT_MAX_LOG_ENTRIES }),
  maxLogBytes: option.integer({ min: 1, default: DEFAULT_MAX_LOG_BYTES }),
});

/** What an entry adds to a page besides its value's JSON and names: field names, version, punctuation. */
const ENTRY_OVERHEAD_BYTES = 64;
/** The most bytes one UTF-16 unit of a name takes in JSON (`\uXXXX`): page sizes are upper bounds. */
const MAX_ESCAPED_UNIT_BYTES = 6;

/**
 * RegistryStorage in this process's memory: every write is atomic because nothing else runs during it. Brokers
 * of one process share one; across processes a Redis storage (issue 16) keeps the same promises (the suite
 * `registryStorageConformance` of @vnf/conformance).
 */
export class MemoryRegistryStorage implements RegistryStorage {
  private readonly collections = new Map<string, Map<string, StoredRecord>>();
  private readonly byOwner = new Map<string, Map<string, StoredRecord>>();
  private readonly bytesByOwner = new Map<string, number>();
  /** Retained records and their bytes, by collection: what a retained write's quota counts. */
  private readonly retainedByCollection = new Map<string, { entries: number; bytes: number }>();
  private readonly subscribers = new Map<string, Set<(change: StorageChange) => void>>();
  private readonly leases = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly log: StorageChange[] = [];
  private readonly maxLogEntries: number;
  private readonly maxLogBytes: number;
  /** Bytes of values the log holds (each change counted by its record's value). */
  private logBytes = 0;
  /** Index of the log's oldest change: the log is trimmed by moving it, and compacted now and then. */
  private logStart = 0;
  private current = 0;

  constructor(options: MemoryRegistryStorageOptions = {}) {
    ({ maxLogEntries: this.maxLogEntries, maxLogBytes: this.maxLogBytes } = SCHEMA.resolve(options));
  }

  async write(key: RegistryKey, value: RecordValue | null, condition: WriteCondition, quota?: OwnerQuota): Promise<WriteOutcome> {
    return this.writeNow(key, value, condition, quota);
  }

  async read(key: RegistryKey): Promise<StoredRecord | undefined> {
    const record = this.collections.get(key.collection)?.get(key.name);
    return record && { ...record };
  }

  async page(collection: string, after: string | undefined, maxEntries: number, maxBytes: number): Promise<{ records: StoredRecord[]; next?: string; revision: number }> {
    const entries = this.collections.get(collection);
    const names = [...(entries?.keys() ?? [])].sort(compare);
    let i = after === undefined ? 0 : upperBound(names, after);
    const records: StoredRecord[] = [];
    let bytes = 0;
    for (; i < names.length && records.length < maxEntries; i++) {
      const record = entries!.get(names[i])!;
      const size = record.bytes + (record.name.length + record.owner.length + record.collection.length) * MAX_ESCAPED_UNIT_BYTES + ENTRY_OVERHEAD_BYTES;
      if (records.length > 0 && bytes + size > maxBytes) break;
      bytes += size;
      records.push({ ...record });
    }
    const revision = this.current;
    return i < names.length ? { records, next: names[i - 1], revision } : { records, revision };
  }

  async ownedBy(owner: string): Promise<StoredRecord[]> {
    const owned = [...(this.byOwner.get(owner)?.values() ?? [])];
    return owned.sort((a, b) => compare(a.collection, b.collection) || compare(a.name, b.name)).map((r) => ({ ...r }));
  }

  async revision(): Promise<number> {
    return this.current;
  }

  async entryCount(): Promise<number> {
    let count = 0;
    for (const records of this.collections.values()) count += records.size;
    return count;
  }

  async changesSince(revision: number, limit: number): Promise<ChangesSince> {
    const log = this.log;
    const oldest = this.logStart < log.length ? log[this.logStart].revision : this.current + 1;
    // Every change after `revision` is in the log when the log starts at or before revision + 1. A revision this store
    // never reached (it restarted, forgetting its log and revisions) is a history it does not have either.
    const truncated = (revision + 1 < oldest && revision < this.current) || revision > this.current;
    // Revisions are consecutive in the log: the first change after `revision` is found by arithmetic.
    const from = this.logStart + Math.max(0, revision + 1 - oldest);
    const changes = from < log.length ? log.slice(from, from + limit).map(copyChange) : [];
    return { changes, truncated, revision: this.current };
  }

  async subscribe(collection: string, listener: (change: StorageChange) => void): Promise<() => void> {
    const set = this.subscribers.get(collection) ?? new Set();
    // Each subscription its own record: one function subscribed twice is told twice.
    const own = (change: StorageChange): void => listener(change);
    set.add(own);
    this.subscribers.set(collection, set);
    return () => {
      set.delete(own);
      if (set.size === 0 && this.subscribers.get(collection) === set) this.subscribers.delete(collection);
    };
  }

  async keepAlive(owner: string, ttlMs: number): Promise<void> {
    if (!(ttlMs > 0)) throw new VnfError('INVALID_ARGUMENT', `A lease needs a positive ttlMs; got ${String(ttlMs)}.`);
    const previous = this.leases.get(owner);
    if (previous) clearTimeout(previous);
    const timer = setTimeout(() => {
      this.leases.delete(owner);
      this.expire(owner);
    }, ttlMs);
    // A lease must not keep a process alive by itself.
    (timer as { unref?: () => void }).unref?.();
    this.leases.set(owner, timer);
  }

  async endLease(owner: string): Promise<void> {
    const timer = this.leases.get(owner);
    if (timer) clearTimeout(timer);
    this.leases.delete(owner);
  }

  async close(): Promise<void> {
    for (const timer of this.leases.values()) clearTimeout(timer);
    this.leases.clear();
  }

  /** The lease of `owner` ran out: its entries go, each as a change, or become their wills. */
  private expire(owner: string): void {
    const owned = [...(this.byOwner.get(owner)?.values() ?? [])].sort((a, b) => compare(a.collection, b.collection) || compare(a.name, b.name));
    for (const record of owned) this.writeNow(record, willOf(record), { version: record.version });
  }

  private writeNow(key: RegistryKey, value: RecordValue | null, condition: WriteCondition, quota?: OwnerQuota): WriteOutcome {
    const entries = this.collections.get(key.collection);
    const current = entries?.get(key.name);
    const holds = 'absent' in condition ? current === undefined : current !== undefined && current.version === condition.version;
    if (!holds) return { ok: false, reason: 'condition', current: current && { ...current } };
    if (value === null) {
      if (!current) return { ok: false, reason: 'condition', current: undefined };
      return this.commit('removed', current, () => this.unlink(current));
    }
    const owner = value.owner;
    if (quota) {
      // Who pays: the value's owner, or for a retained value its collection. An update by another owner is the
      // rules' business (FORBIDDEN), not storage's.
      const payer = value.retained ? key.collection : owner;
      const samePayer = current !== undefined && !!current.retained === !!value.retained && payerOf(current) === payer;
      const paidBefore = samePayer ? charged(current) : 0;
      const held = value.retained
        ? (this.retainedByCollection.get(payer) ?? { entries: 0, bytes: 0 })
        : { entries: this.byOwner.get(owner)?.size ?? 0, bytes: this.bytesByOwner.get(owner) ?? 0 };
      const entries = held.entries + (samePayer ? 0 : 1);
      const cost = charged(value);
      if (entries > quota.maxEntries || (cost > paidBefore && held.bytes - paidBefore + cost > quota.maxBytes)) {
        return { ok: false, reason: 'quota', entries: held.entries, bytes: held.bytes };
      }
    }
    const record: StoredRecord = {
      collection: key.collection,
      name: key.name,
      owner,
      version: current ? current.version + 1 : 1,
      revision: this.current + 1,
      json: value.json,
      bytes: value.bytes,
    };
    if (value.retained) record.retained = true;
    if (value.will) record.will = { json: value.will.json, bytes: value.will.bytes };
    return this.commit(current ? 'updated' : 'added', record, () => {
      if (current) this.unlink(current);
      this.link(record);
    }, current);
  }

  /** Applies a write, bumps the revision, logs the change and tells the collection's subscribers. */
  private commit(type: StorageChange['type'], record: StoredRecord, apply: () => void, previous?: StoredRecord): WriteOutcome {
    apply();
    this.current += 1;
    const written = type === 'removed' ? { ...record } : record;
    const change: StorageChange = { revision: this.current, type, record: written };
    if (type === 'updated' && previous) change.previous = previous;
    this.log.push(change);
    this.logBytes += logged(change);
    while (this.log.length - this.logStart > this.maxLogEntries || (this.logBytes > this.maxLogBytes && this.log.length - this.logStart > 1)) {
      this.logBytes -= logged(this.log[this.logStart]);
      // Let go of the dropped change now, not at the next compaction.
      (this.log as Array<StorageChange | undefined>)[this.logStart] = undefined;
      this.logStart++;
    }
    // Compacted once the dropped head is as long as what is kept: trimming stays O(1) per write on average.
    if (this.logStart > 1024 && this.logStart * 2 > this.log.length) {
      this.log.splice(0, this.logStart);
      this.logStart = 0;
    }
    const set = this.subscribers.get(record.collection);
    if (set) for (const listener of [...set]) if (set.has(listener)) listener(copyChange(change));
    return { ok: true, record: { ...written }, revision: this.current };
  }

  private link(record: StoredRecord): void {
    const entries = this.collections.get(record.collection) ?? new Map<string, StoredRecord>();
    entries.set(record.name, record);
    this.collections.set(record.collection, entries);
    if (record.retained) {
      const held = this.retainedByCollection.get(record.collection) ?? { entries: 0, bytes: 0 };
      this.retainedByCollection.set(record.collection, { entries: held.entries + 1, bytes: held.bytes + charged(record) });
      return;
    }
    const owned = this.byOwner.get(record.owner) ?? new Map<string, StoredRecord>();
    owned.set(`${record.collection}\u0000${record.name}`, record);
    this.byOwner.set(record.owner, owned);
    this.bytesByOwner.set(record.owner, (this.bytesByOwner.get(record.owner) ?? 0) + charged(record));
  }

  private unlink(record: StoredRecord): void {
    const entries = this.collections.get(record.collection);
    entries?.delete(record.name);
    if (entries && entries.size === 0) this.collections.delete(record.collection);
    if (record.retained) {
      const held = this.retainedByCollection.get(record.collection);
      if (!held || held.entries <= 1) this.retainedByCollection.delete(record.collection);
      else this.retainedByCollection.set(record.collection, { entries: held.entries - 1, bytes: held.bytes - charged(record) });
      return;
    }
    const owned = this.byOwner.get(record.owner);
    owned?.delete(`${record.collection}\u0000${record.name}`);
    if (owned && owned.size === 0) this.byOwner.delete(record.owner);
    const bytes = (this.bytesByOwner.get(record.owner) ?? 0) - charged(record);
    if (bytes <= 0) this.bytesByOwner.delete(record.owner);
    else this.bytesByOwner.set(record.owner, bytes);
  }
}

/** What a record costs its payer: its value, and its will's value. */
function charged(value: { bytes: number; will?: { bytes: number } }): number {
  return value.bytes + (value.will?.bytes ?? 0);
}

function payerOf(record: StoredRecord): string {
  return record.retained ? record.collection : record.owner;
}

/** What an owned record becomes when its owner goes uncleanly: its will's value as a retained record, or nothing. */
export function willOf(record: StoredRecord): RecordValue | null {
  if (!record.will || record.will.json === null) return null;
  return { owner: record.owner, json: record.will.json, bytes: record.will.bytes, retained: true };
}

/** What one change holds in the log: its record's value and will, and the value it replaced. */
function logged(change: StorageChange): number {
  return charged(change.record) + (change.previous ? charged(change.previous) : 0);
}

function copyChange(change: StorageChange): StorageChange {
  const copy: StorageChange = { revision: change.revision, type: change.type, record: { ...change.record } };
  if (change.previous) copy.previous = { ...change.previous };
  return copy;
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
