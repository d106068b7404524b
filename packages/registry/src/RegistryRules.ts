import {
  Global,
  VnfError,
  callUserListener,
  defaultAuthorize,
  utf8Length,
  validateEva,
  type ErrorEmitter,
  type OwnerQuota,
  type RecordValue,
  type RegistryAccess,
  type RegistryAction,
  type RegistryCondition,
  type RegistryResource,
  type RegistrySnapshotWatcher,
  type RegistryWill,
  type RegistryWriteResult,
  type StoreRemoveOptions,
  type StoreWatchOptions,
  type StoreWriteOptions,
  type StoredWill,
  type WriteCondition,
  type RegistryEntry,
  type RegistryKey,
  type RegistryPage,
  type RegistryPageRequest,
  type RegistryStorage,
  type RegistryStore,
  type RegistryWatcher,
  type Status,
  type StoredRecord,
} from '@vnf/core';
import { validateKey, validateKeyPart } from './registryKey';
import { FORWARD, PageJson, entryJson, toEntry, type ForwardingWatcher } from './registryJson';
import { serializeValue } from './registryValue';
import { conflict, holds, readRemoveOptions, readWatchOptions, readWriteOptions } from './registryOptions';
import { WatchFeed } from './WatchFeed';
import { CollectionSubscriptions } from './CollectionSubscriptions';
import { CHANGED_DURING_PASS, WriteWaiters, type PassState } from './WriteWaiters';
import { willOf } from './MemoryRegistryStorage';
import { RoomExpiry } from './RoomExpiry';
import {
  DEFAULT_MAX_ROOM_STATE_BYTES,
  DEFAULT_MAX_ROOM_STATE_ENTRIES,
  DEFAULT_ROOM_STATE_TTL_MS,
  ROOM_MEMBER_PREFIX,
  roomEntryKind,
  roomOf,
} from './rooms';

/** The limits RegistryRules enforces (MemoryRegistryStoreOptions, resolved). */
export interface RegistryLimits {
  maxValueBytes: number;
  maxEntriesPerOwner: number;
  maxKeyLength: number;
  maxBytesPerOwner: number;
  /** Retained entries one collection may hold (they outlive their writers, so they count against the collection). Default 1000. */
  maxRetainedEntriesPerCollection?: number;
  /** Bytes of retained values one collection may hold. Default 1 MiB. */
  maxRetainedBytesPerCollection?: number;
  /** State entries one room collection may hold (instead of maxRetainedEntriesPerCollection). Default 256. */
  maxRoomStateEntries?: number;
  /** Bytes of state values one room collection may hold (instead of maxRetainedBytesPerCollection). Default 64 KiB. */
  maxRoomStateBytes?: number;
  /** How long a room's state stays after its last member left, ms; a member joining meanwhile keeps it. Default 60 000. */
  roomStateTtlMs?: number;
}

/** What the room rules add to the resource of a write in a room collection (nothing outside one). */
type RoomFields = Pick<RegistryResource, 'room' | 'roomMember'>;

/** A write in a room collection: its room and the kind of entry its name makes it. */
interface RoomWrite {
  room: string;
  kind: 'member' | 'state';
}

/** `{ room }` for a resource in a room collection, nothing otherwise. */
function roomField(collection: string): RoomFields {
  const room = roomOf(collection);
  return room === undefined ? {} : { room };
}

/** Entries in one page of a snapshot read. */
const SNAPSHOT_PAGE_ENTRIES = 1000;

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
  readonly maxRetainedEntriesPerCollection: number;
  readonly maxRetainedBytesPerCollection: number;
  readonly maxRoomStateEntries: number;
  readonly maxRoomStateBytes: number;
  readonly roomStateTtlMs: number;
  private readonly quota: OwnerQuota;
  private readonly retainedQuota: OwnerQuota;
  private readonly roomQuota: OwnerQuota;
  private readonly subscriptions: CollectionSubscriptions;
  private readonly waiters: WriteWaiters;
  private readonly rooms: RoomExpiry;

  constructor(
    readonly storage: RegistryStorage,
    limits: RegistryLimits,
  ) {
    this.maxValueBytes = limits.maxValueBytes;
    this.maxEntriesPerOwner = limits.maxEntriesPerOwner;
    this.maxKeyLength = limits.maxKeyLength;
    this.maxBytesPerOwner = limits.maxBytesPerOwner;
    this.maxRetainedEntriesPerCollection = limits.maxRetainedEntriesPerCollection ?? 1000;
    this.maxRetainedBytesPerCollection = limits.maxRetainedBytesPerCollection ?? 1024 * 1024;
    this.quota = { maxEntries: limits.maxEntriesPerOwner, maxBytes: limits.maxBytesPerOwner };
    this.subscriptions = new CollectionSubscriptions(storage);
    this.waiters = new WriteWaiters({
      subscribe: (collection, onChange) => this.subscriptions.subscribe(collection, { raw: (change) => onChange(change.record.name) }),
    });
    this.retainedQuota = { maxEntries: this.maxRetainedEntriesPerCollection, maxBytes: this.maxRetainedBytesPerCollection };
    this.maxRoomStateEntries = limits.maxRoomStateEntries ?? DEFAULT_MAX_ROOM_STATE_ENTRIES;
    this.maxRoomStateBytes = limits.maxRoomStateBytes ?? DEFAULT_MAX_ROOM_STATE_BYTES;
    this.roomStateTtlMs = limits.roomStateTtlMs ?? DEFAULT_ROOM_STATE_TTL_MS;
    this.roomQuota = { maxEntries: this.maxRoomStateEntries, maxBytes: this.maxRoomStateBytes };
    this.rooms = new RoomExpiry(storage, this.subscriptions, this.roomStateTtlMs);
  }

  /** Stops the rooms' state countdowns (their timers); the entries stay. Idempotent. */
  async close(): Promise<void> {
    this.rooms.close();
  }

  async create(owner: string, key: RegistryKey, value: unknown, access?: RegistryAccess): Promise<Status> {
    validateEva(owner, 'owner');
    const valid = validateKey(key, this.maxKeyLength);
    const json = serializeValue(value, this.maxValueBytes);
    const room = this.roomWrite(owner, valid, 'createEntry', { retained: false, willValue: false });
    const permitted = this.permit(owner, access, 'write', { collection: valid.collection, name: valid.name, ...(room && { room: room.room }) });
    if (permitted) await permitted;
    const outcome = await this.storage.write(valid, { owner, json, bytes: utf8Length(json) }, { absent: true }, this.quota);
    if (outcome.ok) {
      if (room?.kind === 'member') this.rooms.joined(valid.collection);
      return Global.OK;
    }
    if (outcome.reason === 'condition') return Global.ALREADY_EXISTS;
    throw this.overQuota(owner, outcome.entries >= this.maxEntriesPerOwner ? 'entries' : 'bytes', outcome.bytes + utf8Length(json));
  }

  async get(key: RegistryKey, access?: RegistryAccess): Promise<RegistryEntry> {
    const valid = validateKey(key, this.maxKeyLength);
    const permitted = access && this.permit('', access, 'read', { collection: valid.collection, name: valid.name, ...roomField(valid.collection) });
    if (permitted) await permitted;
    return toEntry(this.found(valid, await this.storage.read(valid)));
  }

  async update(owner: string, key: RegistryKey, value: unknown, access?: RegistryAccess): Promise<Status> {
    validateEva(owner, 'owner');
    const valid = validateKey(key, this.maxKeyLength);
    // Only presence entries pass: updateEntry keeps an entry's kind, and a client remembers what it updated as its own.
    const room = this.roomWrite(owner, valid, 'updateEntry', { retained: false, willValue: false });
    let json: string | null = null;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const owned = this.owned(owner, valid, 'update', await this.storage.read(valid), access, room && { room: room.room });
      const current = owned instanceof Promise ? await owned : owned;
      json ??= serializeValue(value, this.maxValueBytes);
      const bytes = utf8Length(json);
      // An update keeps the entry's kind: a retained entry stays retained (its quota is its collection's).
      const record: RecordValue = current.retained ? { owner, json, bytes, retained: true } : { owner, json, bytes };
      const outcome = await this.storage.write(valid, record, { version: current.version }, current.retained ? this.retainedQuotaOf(valid.collection) : this.quota);
      if (outcome.ok) return Global.OK;
      if (outcome.reason === 'quota') throw this.quotaError(owner, valid.collection, record, outcome, current);
      // Another write came between the read and this one: read again (the last writer wins, as before).
    }
    throw this.contended(valid);
  }

  async delete(owner: string, key: RegistryKey, access?: RegistryAccess): Promise<Status> {
    validateEva(owner, 'owner');
    const valid = validateKey(key, this.maxKeyLength);
    const room = this.roomWrite(owner, valid, 'deleteEntry', null);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const record = await this.storage.read(valid);
      const owned = this.owned(owner, valid, 'delete', record, access, room && (await this.roomFields(owner, valid, room)));
      const current = owned instanceof Promise ? await owned : owned;
      if ((await this.storage.write(valid, null, { version: current.version })).ok) return Global.OK;
    }
    throw this.contended(valid);
  }

  async list(collection: string, access?: RegistryAccess): Promise<RegistryEntry[]> {
    validateKeyPart(collection, 'collection', this.maxKeyLength);
    const permitted = access && this.permit('', access, 'read', { collection, ...roomField(collection) });
    if (permitted) await permitted;
    // Code-unit order, not locale order: the same on every machine and in every storage.
    return (await this.storage.page(collection, undefined, Infinity, Infinity)).records.map(toEntry);
  }

  async listPage(collection: string, page: RegistryPageRequest, access?: RegistryAccess): Promise<RegistryPage> {
    const { records, next } = await this.page(collection, page, access);
    const entries = records.map(toEntry);
    return next === undefined ? { entries } : { entries, next };
  }

  /**
   * As listPage, as the JSON text of `{ entries, next }` built from the stored values without parsing them (the
   * broker's replies; RegistryService uses it when the store has it). The text is built when first read: a caller
   * that only needed `next` (a whole list too large for one reply) builds nothing.
   */
  async listPageJson(collection: string, page: RegistryPageRequest, access?: RegistryAccess): Promise<PageJson> {
    const { records, next } = await this.page(collection, page, access);
    return new PageJson(() => {
      const entries = records.map(entryJson).join(',');
      return next === undefined ? `{"entries":[${entries}]}` : `{"entries":[${entries}],"next":${JSON.stringify(next)}}`;
    }, next);
  }

  async write(owner: string, key: RegistryKey, value: unknown, options: StoreWriteOptions = {}, access?: RegistryAccess): Promise<RegistryWriteResult> {
    validateEva(owner, 'owner');
    const valid = validateKey(key, this.maxKeyLength);
    const { when, will, retain, ...waiting } = readWriteOptions(options);
    const json = serializeValue(value, this.maxValueBytes);
    const record: RecordValue = { owner, json, bytes: utf8Length(json) };
    if (retain) record.retained = true;
    if (will) record.will = this.storedWill(will);
    const room = this.roomWrite(owner, valid, 'write', { retained: retain, willValue: will !== undefined && 'value' in will });
    const result = await this.conditional(owner, valid, record, when, waiting, access, room);
    if (room?.kind === 'member' && result.status === Global.OK) this.rooms.joined(valid.collection);
    return result;
  }

  async remove(owner: string, key: RegistryKey, options: StoreRemoveOptions = {}, access?: RegistryAccess): Promise<RegistryWriteResult> {
    validateEva(owner, 'owner');
    const valid = validateKey(key, this.maxKeyLength);
    const { when, ...waiting } = readRemoveOptions(options);
    return this.conditional(owner, valid, null, when, waiting, access, this.roomWrite(owner, valid, 'remove', null));
  }

  async applyWills(owner: string, only?: Array<RegistryKey & { version: number }>): Promise<void> {
    validateEva(owner, 'owner');
    const records = only === undefined ? await this.storage.ownedBy(owner) : await Promise.all(only.map((key) => this.storage.read(validateKey(key, this.maxKeyLength))));
    for (const [i, record] of records.entries()) {
      if (!record?.will || record.owner !== owner || record.retained) continue;
      if (only !== undefined && record.version !== only[i].version) continue;
      await this.applyWill(record);
    }
  }

  async removeOwner(owner: string, options: { applyWills?: boolean } = {}): Promise<void> {
    validateEva(owner, 'owner');
    // Removed on purpose: a lease left running would only remove nothing later.
    await this.storage.endLease(owner);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const owned = await this.storage.ownedBy(owner);
      if (owned.length === 0) return;
      for (const record of owned) {
        if (options.applyWills && record.will) await this.applyWill(record);
        else await this.storage.write(record, null, { version: record.version });
      }
    }
  }

  watch(collection: string, watcher: RegistryWatcher, options?: undefined, access?: RegistryAccess): Promise<() => void>;
  watch(collection: string, watcher: RegistrySnapshotWatcher, options: StoreWatchOptions, access?: RegistryAccess): Promise<(() => void) & { revision?: number }>;
  async watch(
    collection: string,
    watcher: RegistryWatcher | RegistrySnapshotWatcher,
    options?: StoreWatchOptions,
    access?: RegistryAccess,
  ): Promise<(() => void) & { revision?: number }> {
    validateKeyPart(collection, 'collection', this.maxKeyLength);
    if (typeof watcher !== 'function') throw new VnfError('INVALID_ARGUMENT', 'watch takes a function called with each change.');
    const feedOptions = options === undefined ? undefined : readWatchOptions(options);
    const permitted = access && this.permit('', access, 'read', { collection, ...roomField(collection) });
    if (permitted) await permitted;
    if (!feedOptions) {
      // Each subscription is its own record, so watching twice with one function gives two independent watches.
      const plain = watcher as RegistryWatcher;
      const forward = (watcher as Partial<ForwardingWatcher>)[FORWARD];
      return this.subscriptions.subscribe(collection, forward ? { forward } : { plain });
    }
    const what = `a watcher of collection ${collection}`;
    const forward = (watcher as Partial<ForwardingWatcher>)[FORWARD];
    const feed = new WatchFeed(collection, watcher as RegistrySnapshotWatcher, forward ? { ...feedOptions, forward } : feedOptions, {
      changesSince: (revision, limit) => this.storage.changesSince(revision, limit),
      page: (name, after) => this.storage.page(name, after, SNAPSHOT_PAGE_ENTRIES, Infinity),
      tell: (listener, event) => callUserListener(UNHEARD, () => listener(event), what),
      guard: (fn) => callUserListener(UNHEARD, fn, what),
    });
    const stop = await this.subscriptions.subscribe(collection, { raw: feed.onChange });
    let revision: number;
    try {
      revision = await feed.start(() => this.storage.revision());
    } catch (err) {
      stop();
      throw err;
    }
    return Object.assign(
      () => {
        feed.stop();
        stop();
      },
      { revision },
    );
  }

  /**
   * A write or removal under `when`, for `owner`: reads the entry, checks the condition and the caller's right, and
   * writes at the version read (again when another write came between). With `wait`, a condition that does not hold
   * queues the write until it does (WriteWaiters).
   */
  private async conditional(
    owner: string,
    key: RegistryKey,
    value: RecordValue | null,
    when: RegistryCondition | undefined,
    waiting: { wait: boolean; timeoutMs?: number; signal?: AbortSignal; onWaiting?: () => void },
    access: RegistryAccess | undefined,
    room: RoomWrite | undefined,
  ): Promise<RegistryWriteResult> {
    // A condition reveals the entry (CONFLICT says its version, `fields` probes its value): asked only of who may read it.
    const readable = access && when !== undefined && this.permit(owner, access, 'read', { collection: key.collection, name: key.name, ...roomField(key.collection) });
    if (readable) await readable;
    const attempt = async (pass?: PassState): Promise<RegistryWriteResult | null | typeof CHANGED_DURING_PASS> => {
      for (let i = 0; i < MAX_ATTEMPTS; i++) {
        // Before the condition, and again at each attempt: a non-member cannot even wait for a room's state, and a
        // waiting member that left the room meanwhile is refused.
        const fields = room && (await this.roomFields(owner, key, room));
        const current = await this.storage.read(key);
        if (pass) {
          // Within a pass over waiters, every attempt judges the state the first one saw (first come, first served).
          const version = current?.version ?? 0;
          if (pass.version === undefined) pass.version = version;
          else if (pass.version !== version) return CHANGED_DURING_PASS;
        }
        if (!holds(when, current)) return waiting.wait ? null : conflict(current);
        if (value === null && !current) throw this.found(key, current);
        const permitted = this.permit(owner, access, 'write', {
          collection: key.collection,
          name: key.name,
          // `write` sets the entry's kind: without `retain`, a retained entry becomes the writer's own (a status its will
          // made "offline" is taken back, with a new will, by its writer), which needs the right to write it.
          retained: !!value?.retained || !!current?.retained || (value?.will !== undefined && value.will.json !== null),
          ...(current && { owner: current.owner }),
          ...fields,
        });
        if (permitted) await permitted;
        const condition: WriteCondition = current ? { version: current.version } : { absent: true };
        const quota = value?.retained ? this.retainedQuotaOf(key.collection) : this.quota;
        const outcome = await this.storage.write(key, value, condition, value ? quota : undefined);
        if (outcome.ok) return { status: Global.OK, version: outcome.record.version, revision: outcome.revision };
        if (outcome.reason === 'quota') throw this.quotaError(owner, key.collection, value!, outcome, current);
        // Another write came between the read and this one: read again (within a pass, the pass starts again).
        if (pass) return CHANGED_DURING_PASS;
      }
      throw this.contended(key);
    };
    if (!waiting.wait) return (await attempt()) as RegistryWriteResult;
    if (waiting.signal?.aborted) throw new VnfError('CANCELLED', `The write of "${key.name}" in "${key.collection}" was cancelled before it started.`);
    // First come first served: a write that finds others waiting for the key queues behind them without trying first.
    if (!this.waiters.has(key)) {
      const now = await attempt();
      if (now) return now as RegistryWriteResult;
    }
    return this.waiters.wait(key, attempt, waiting);
  }

  /**
   * Asks `access` (default: defaultAuthorize for `owner`); throws FORBIDDEN when it says no. Synchronous for a
   * synchronous answer (nothing to await: calls pipelined on one channel keep their order); a promise otherwise.
   */
  private permit(owner: string, access: RegistryAccess | undefined, action: RegistryAction, resource: RegistryResource): Promise<void> | undefined {
    const answer = access ? access(action, resource) : defaultAuthorize({ eva: owner }, action, resource);
    if (answer === true) return undefined;
    if (answer === false) throw this.forbidden(owner, action, resource);
    return Promise.resolve(answer).then((allowed) => {
      if (allowed !== true) throw this.forbidden(owner, action, resource);
    });
  }

  /** The retained quota of a collection: a room's state quota in a room collection. */
  private retainedQuotaOf(collection: string): OwnerQuota {
    return roomOf(collection) === undefined ? this.retainedQuota : this.roomQuota;
  }

  /**
   * The room rules no hook can lift, for a write of `key` by `owner` (`value`: what a write puts, null for a removal);
   * undefined outside room collections. A presence entry `m:<eva>` is written by that eva only and never retained;
   * a state entry `s:<key>` only retained, with `write`.
   */
  private roomWrite(owner: string, key: RegistryKey, call: string, value: { retained: boolean; willValue: boolean } | null): RoomWrite | undefined {
    const room = roomOf(key.collection);
    if (room === undefined) return undefined;
    const kind = roomEntryKind(key);
    const details = { collection: key.collection, name: key.name };
    if (value && kind === 'member' && key.name !== ROOM_MEMBER_PREFIX + owner) {
      throw new VnfError(
        'FORBIDDEN',
        `${owner} cannot write registry entry "${key.name}" in "${key.collection}": a presence entry ${ROOM_MEMBER_PREFIX}<eva> is written only by that eva, so nobody joins a room as another. Write ${ROOM_MEMBER_PREFIX}${owner} to join room "${room}".`,
        { details },
      );
    }
    if (value && kind === 'member' && (value.retained || value.willValue)) {
      throw new VnfError(
        'INVALID_ARGUMENT',
        `${call}: presence entry "${key.name}" in "${key.collection}" goes with its owner; write it without retain and without a will value.`,
        { details },
      );
    }
    if (value && kind === 'state' && !value.retained) {
      throw new VnfError(
        'INVALID_ARGUMENT',
        `${call}: state entry "${key.name}" of room "${room}" is retained; write it with write(key, value, { retain: true }) (and { when } to compare and set).`,
        { details },
      );
    }
    return { room, kind };
  }

  /** What a room write adds to its resource, once a state writer's membership is checked (FORBIDDEN: join the room first). */
  private async roomFields(owner: string, key: RegistryKey, { room, kind }: RoomWrite): Promise<RoomFields> {
    if (kind === 'member') return { room };
    const presence = await this.storage.read({ collection: key.collection, name: ROOM_MEMBER_PREFIX + owner });
    if (presence && presence.owner === owner && !presence.retained) return { room, roomMember: true };
    throw new VnfError(
      'FORBIDDEN',
      `${owner} cannot write state entry "${key.name}" of room "${room}": only its members may. Join the room first: write ${ROOM_MEMBER_PREFIX}${owner} in "${key.collection}".`,
      { details: { collection: key.collection, name: key.name } },
    );
  }

  private forbidden(owner: string, action: RegistryAction, resource: RegistryResource): VnfError {
    const what = resource.name === undefined ? `collection "${resource.collection}"` : `registry entry "${resource.name}" in "${resource.collection}"`;
    let why = 'the registry\'s authorize hook refused it.';
    if (action === 'write' && resource.roomMember) why = `the registry's authorize hook refused this member of room "${resource.room}" writing its state.`;
    else if (action === 'write' && resource.room !== undefined && resource.name?.startsWith(ROOM_MEMBER_PREFIX) && resource.owner === undefined) {
      why = `the registry's authorize hook does not let ${owner || 'this client'} join room "${resource.room}".`;
    } else if (action === 'write' && resource.retained) why = 'retained entries (and wills with a value) are written only where the registry\'s authorize hook allows them; by default nowhere.';
    else if (action === 'write' && resource.owner !== undefined && resource.owner !== owner) why = `it belongs to ${resource.owner}. Only an entry's owner may change it.`;
    return new VnfError('FORBIDDEN', `${owner || 'This client'} cannot ${action} ${what}: ${why}`, {
      details: { collection: resource.collection, ...(resource.name !== undefined && { name: resource.name }), ...(resource.owner !== undefined && { owner: resource.owner }) },
    });
  }

  /**
   * Makes a record its will, counted against its collection's retained quota like any retained write: past it, the
   * entry is removed instead (a will cannot grow a collection past what a retained write may).
   */
  private async applyWill(record: StoredRecord): Promise<void> {
    const outcome = await this.storage.write(record, willOf(record), { version: record.version }, this.retainedQuotaOf(record.collection));
    if (!outcome.ok && outcome.reason === 'quota') await this.storage.write(record, null, { version: record.version });
  }

  private storedWill(will: RegistryWill): StoredWill {
    if ('remove' in will) return { json: null, bytes: 0 };
    const json = serializeValue(will.value, this.maxValueBytes);
    return { json, bytes: utf8Length(json) };
  }

  /** Not async: without a hook to wait for, a page is read in as few turns as before (pipelined calls keep their order). */
  private page(collection: string, page: RegistryPageRequest, access: RegistryAccess | undefined): Promise<{ records: StoredRecord[]; next?: string }> {
    try {
      validateKeyPart(collection, 'collection', this.maxKeyLength);
      const { after, maxEntries, maxBytes } = page;
      if (after !== undefined && typeof after !== 'string') throw new VnfError('INVALID_ARGUMENT', 'listPage: after must be an entry name.');
      if (!(maxEntries > 0) || !(maxBytes > 0)) throw new VnfError('INVALID_ARGUMENT', 'listPage: maxEntries and maxBytes must be positive.');
      const permitted = access && this.permit('', access, 'read', { collection, ...roomField(collection) });
      const read = (): Promise<{ records: StoredRecord[]; next?: string }> => this.storage.page(collection, after, maxEntries, maxBytes);
      return permitted ? permitted.then(read) : read();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private found(key: RegistryKey, record: StoredRecord | undefined): StoredRecord {
    if (record) return record;
    throw new VnfError(
      'NOT_FOUND',
      `No registry entry "${key.name}" in collection "${key.collection}". Its owner may have deleted it or closed; list the collection to see what exists.`,
      { details: { collection: key.collection, name: key.name } },
    );
  }

  /** The entry `owner` may change (synchronously under the default rule, so pipelined calls keep their order). */
  private owned(
    owner: string,
    key: RegistryKey,
    operation: 'update' | 'delete',
    record: StoredRecord | undefined,
    access: RegistryAccess | undefined,
    room: RoomFields | undefined,
  ): StoredRecord | Promise<StoredRecord> {
    const entry = this.found(key, record);
    if (!access && !entry.retained && entry.owner === owner) return entry;
    if (!access && !entry.retained) {
      throw new VnfError(
        'FORBIDDEN',
        `${owner} cannot ${operation} registry entry "${key.name}" in "${key.collection}": it belongs to ${entry.owner}. Only an entry's owner may change it.`,
        { details: { collection: key.collection, name: key.name, owner: entry.owner } },
      );
    }
    const permitted = this.permit(owner, access, 'write', { collection: key.collection, name: key.name, owner: entry.owner, ...(entry.retained && { retained: true }), ...room });
    return permitted ? permitted.then(() => entry) : entry;
  }

  /** The quota a write would pass: its owner's, or for a retained value its collection's. */
  private quotaError(owner: string, collection: string, value: RecordValue, held: { entries: number; bytes: number }, current: StoredRecord | undefined): VnfError {
    const cost = value.bytes + (value.will?.bytes ?? 0);
    const before = current && !!current.retained === !!value.retained ? current.bytes + (current.will?.bytes ?? 0) : 0;
    if (!value.retained) return this.overQuota(owner, before === 0 && held.entries >= this.maxEntriesPerOwner ? 'entries' : 'bytes', held.bytes - before + cost);
    const room = roomOf(collection);
    if (room !== undefined) {
      const full = before === 0 && held.entries >= this.maxRoomStateEntries;
      return new VnfError(
        'TOO_LARGE',
        full
          ? `Room "${room}" already holds ${this.maxRoomStateEntries} state entries, the most one room may hold (maxRoomStateEntries). Remove state entries it no longer needs first.`
          : `Room "${room}" would hold ${held.bytes - before + cost} bytes of state values, more than the ${this.maxRoomStateBytes} one room may hold (maxRoomStateBytes). Store less, or remove state entries it no longer needs first.`,
        { details: { collection, limit: full ? this.maxRoomStateEntries : this.maxRoomStateBytes } },
      );
    }
    const entries = before === 0 && held.entries >= this.maxRetainedEntriesPerCollection;
    return new VnfError(
      'TOO_LARGE',
      entries
        ? `Collection ${collection} already holds ${this.maxRetainedEntriesPerCollection} retained entries, the most one collection may hold. Remove retained entries it no longer needs first.`
        : `Collection ${collection} would hold ${held.bytes - before + cost} bytes of retained values, more than the ${this.maxRetainedBytesPerCollection} one collection may hold.`,
      { details: { collection, limit: entries ? this.maxRetainedEntriesPerCollection : this.maxRetainedBytesPerCollection } },
    );
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

