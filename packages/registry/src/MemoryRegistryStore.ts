import { option, optionsSchema } from '@vnf/core';
import { DEFAULT_MAX_LOG_BYTES, DEFAULT_MAX_LOG_ENTRIES, MemoryRegistryStorage } from './MemoryRegistryStorage';
import { RegistryRules } from './RegistryRules';
import { DEFAULT_MAX_ROOM_STATE_BYTES, DEFAULT_MAX_ROOM_STATE_ENTRIES, DEFAULT_ROOM_STATE_TTL_MS } from './rooms';

export interface MemoryRegistryStoreOptions {
  /**
   * Largest value accepted, in bytes of UTF-8 JSON; larger ones are refused with TOO_LARGE.
   * @default 65536 (64 KiB)
   */
  maxValueBytes?: number;
  /**
   * Most entries one owner may hold at once; one more is refused with TOO_LARGE.
   * @default 1000
   */
  maxEntriesPerOwner?: number;
  /**
   * Longest collection or entry name, in characters; longer ones are refused with INVALID_ARGUMENT.
   * @default 256
   */
  maxKeyLength?: number;
  /**
   * Most bytes of values (UTF-8 JSON) one owner may hold in all; a write past it is refused with TOO_LARGE.
   * @default 1048576 (1 MiB)
   */
  maxBytesPerOwner?: number;
  /**
   * Most retained entries one collection may hold (retained entries outlive their writers, so they count against
   * their collection, not an owner); one more is refused with TOO_LARGE.
   * @default 1000
   */
  maxRetainedEntriesPerCollection?: number;
  /**
   * Most bytes of retained values (UTF-8 JSON) one collection may hold.
   * @default 1048576 (1 MiB)
   */
  maxRetainedBytesPerCollection?: number;
  /**
   * Most state entries (`s:<key>`) one room collection (`vnf.room:<room>`) may hold; one more is refused with
   * TOO_LARGE. A room's state is its collection's retained entries, counted against this instead of
   * maxRetainedEntriesPerCollection.
   * @default 256
   */
  maxRoomStateEntries?: number;
  /**
   * Most bytes of state values (UTF-8 JSON) one room collection may hold; a write past it is refused with TOO_LARGE.
   * @default 65536 (64 KiB)
   */
  maxRoomStateBytes?: number;
  /**
   * How long a room's state entries stay after its last presence entry went, ms: then they are removed (watchers
   * are told), unless a member joins meanwhile.
   * @default 60000
   */
  roomStateTtlMs?: number;
  /**
   * Changes the store's log keeps, so that a watch coming back after a reconnection is replayed what it missed;
   * a watch further behind gets one resync (a fresh snapshot) instead.
   * @default 10000
   */
  maxLogEntries?: number;
  /**
   * Bytes of values the store's log may hold; past it the oldest changes are dropped as past maxLogEntries.
   * @default 33554432 (32 MiB)
   */
  maxLogBytes?: number;
}

export const DEFAULT_MAX_VALUE_BYTES = 64 * 1024;
export const DEFAULT_MAX_ENTRIES_PER_OWNER = 1000;
export const DEFAULT_MAX_KEY_LENGTH = 256;
export const DEFAULT_MAX_BYTES_PER_OWNER = 1024 * 1024;

/** The limits of a MemoryRegistryStore as options (InBrowserRegistry takes them too). */
export const STORE_LIMIT_FIELDS = {
  maxValueBytes: option.integer({ min: 1, default: DEFAULT_MAX_VALUE_BYTES }),
  maxEntriesPerOwner: option.integer({ min: 1, default: DEFAULT_MAX_ENTRIES_PER_OWNER }),
  maxKeyLength: option.integer({ min: 1, default: DEFAULT_MAX_KEY_LENGTH }),
  maxBytesPerOwner: option.integer({ min: 1, default: DEFAULT_MAX_BYTES_PER_OWNER }),
  maxRetainedEntriesPerCollection: option.integer({ min: 1, default: DEFAULT_MAX_ENTRIES_PER_OWNER }),
  maxRetainedBytesPerCollection: option.integer({ min: 1, default: DEFAULT_MAX_BYTES_PER_OWNER }),
  maxRoomStateEntries: option.integer({ min: 1, default: DEFAULT_MAX_ROOM_STATE_ENTRIES }),
  maxRoomStateBytes: option.integer({ min: 1, default: DEFAULT_MAX_ROOM_STATE_BYTES }),
  // At most the longest timer delay (2^31 - 1 ms): a longer one would fire at once.
  roomStateTtlMs: option.integer({ min: 1, max: 2 ** 31 - 1, default: DEFAULT_ROOM_STATE_TTL_MS }),
  maxLogEntries: option.integer({ min: 1, default: DEFAULT_MAX_LOG_ENTRIES }),
  maxLogBytes: option.integer({ min: 1, default: DEFAULT_MAX_LOG_BYTES }),
};

const SCHEMA = optionsSchema('MemoryRegistryStore', STORE_LIMIT_FIELDS);

/**
 * The registry in this process's memory: RegistryRules over a MemoryRegistryStorage. Used by InBrowserRegistry and,
 * through RegistryService, by the broker. Brokers of one process may share one (a cluster in one process); the
 * rules are RegistryRules', the storage's promises are `registryStorageConformance`'s.
 */
export class MemoryRegistryStore extends RegistryRules {
  constructor(options: MemoryRegistryStoreOptions = {}) {
    const { maxLogEntries, maxLogBytes, ...limits } = SCHEMA.resolve(options);
    super(new MemoryRegistryStorage({ maxLogEntries, maxLogBytes }), limits);
  }

  /** Stops the rooms' state countdowns and the storage's lease timers; the entries stay. Idempotent. */
  override async close(): Promise<void> {
    await super.close();
    await this.storage.close();
  }
}
