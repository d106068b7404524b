import type { RegistryKey } from './registry';

/*
 * The registry's storage seam (docs/design.md, The registry): what a store shared by several brokers must do
 * atomically, and nothing more. The registry's rules (key and value validation, serialization, ownership, limits,
 * the order watchers are told in) live in one layer above it (@vnf/registry's RegistryRules), so a second
 * storage — Redis, in issue 16 — implements only this and cannot drift from the rules.
 */

/** An entry as storage keeps it: the value only as JSON text. */
export interface StoredRecord {
  collection: string;
  name: string;
  owner: string;
  /** 1 when created, one more with each update. */
  version: number;
  /** The store revision of the write that made this version. */
  revision: number;
  json: string;
  /** UTF-8 bytes of `json`. */
  bytes: number;
  /** True for a retained record: it outlives its owner (lease expiry and `ownedBy` skip it); quotas count it per collection. */
  retained?: boolean;
  /** What the record becomes when its owner's lease runs out or its session ends uncleanly (RecordValue.will). */
  will?: StoredWill;
}

/** A will as storage keeps it: the value's JSON (its UTF-8 bytes counted with the record's), or null to remove the record. */
export interface StoredWill {
  json: string | null;
  bytes: number;
}

/** When a write applies: the entry is absent (a create), or it is at this version (an update or delete). */
export type WriteCondition = { absent: true } | { version: number };

/** What one owner may hold, checked atomically with the write that would pass it. */
export interface OwnerQuota {
  maxEntries: number;
  maxBytes: number;
}

/**
 * A value to store for a key: its owner and its JSON. A retained value is charged to its collection, not its owner:
 * `write`'s quota is then the collection's (its retained entries and their bytes). An owned value with a will is
 * charged its bytes plus the will's.
 */
export interface RecordValue {
  owner: string;
  json: string;
  bytes: number;
  retained?: boolean;
  will?: StoredWill;
}

export type WriteOutcome =
  /** Written: the record as now stored (for a removal, as it was), and the store revision the write got. */
  | { ok: true; record: StoredRecord; revision: number }
  /** The condition did not hold: the record as it is now (absent: undefined). Nothing was written. */
  | { ok: false; reason: 'condition'; current: StoredRecord | undefined }
  /** The owner would pass its quota: what it holds now. Nothing was written. */
  | { ok: false; reason: 'quota'; entries: number; bytes: number };

/** One write, as the change log and subscribers see it. */
export interface StorageChange {
  revision: number;
  type: 'added' | 'updated' | 'removed';
  /** The record as written (for `removed`, as it was). */
  record: StoredRecord;
  /** For `updated`: the record it replaced (a filtered watch tells an entry leaving its filter as removed). */
  previous?: StoredRecord;
}

export interface ChangesSince {
  /** Changes after the asked revision, oldest first. */
  changes: StorageChange[];
  /** True when the log no longer holds every change after the asked revision (older ones were dropped): read a snapshot. */
  truncated: boolean;
  /** The store revision when read. */
  revision: number;
}

export interface RegistryStorage {
  /**
   * Atomically: when `condition` holds for `key`, stores `value` (or removes the entry when `value` is null),
   * checking and charging the owner's `quota` in the same step; the store revision grows by one, the change is
   * appended to the log and told to the collection's subscribers (in revision order). Otherwise writes nothing.
   */
  write(key: RegistryKey, value: RecordValue | null, condition: WriteCondition, quota?: OwnerQuota): Promise<WriteOutcome>;
  read(key: RegistryKey): Promise<StoredRecord | undefined>;
  /**
   * Entries of `collection` after the name `after`, by code-unit order of names, at most `maxEntries` and about
   * `maxBytes` (at least one), read atomically at store revision `revision`.
   */
  page(collection: string, after: string | undefined, maxEntries: number, maxBytes: number): Promise<{ records: StoredRecord[]; next?: string; revision: number }>;
  /** Every record of `owner` that is not retained, ordered by collection then name. */
  ownedBy(owner: string): Promise<StoredRecord[]>;
  /** The store-wide revision: 0 when nothing was ever written, one more with every write. */
  revision(): Promise<number>;
  /** The changes after `revision` (at most `limit`), from the bounded change log. */
  changesSince(revision: number, limit: number): Promise<ChangesSince>;
  /** Tells `listener` every change of `collection` from now on, synchronously with the write, in revision order. */
  subscribe(collection: string, listener: (change: StorageChange) => void): Promise<() => void>;
  /**
   * Grants or renews `owner`'s lease for `ttlMs`: if it is not renewed in time (the broker holding the owner died),
   * the storage removes the owner's entries, each as a change (a record with a will becomes its will instead: a
   * retained record of the will's value, or removed). Owners never given a lease keep their entries.
   */
  keepAlive(owner: string, ttlMs: number): Promise<void>;
  /** Ends `owner`'s lease without removing anything. */
  endLease(owner: string): Promise<void>;
  /** Releases timers and connections. */
  close(): Promise<void>;
  /** How many entries the store holds (the broker's `vnf_broker_registry_entries`); optional. */
  entryCount?(): Promise<number>;
}
