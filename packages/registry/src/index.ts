export { MemoryRegistryStore, STORE_LIMIT_FIELDS, DEFAULT_MAX_VALUE_BYTES, DEFAULT_MAX_ENTRIES_PER_OWNER, DEFAULT_MAX_KEY_LENGTH, DEFAULT_MAX_BYTES_PER_OWNER } from './MemoryRegistryStore';
export { RegistryRules } from './RegistryRules';
export type { RegistryLimits } from './RegistryRules';
export { ENTRY_JSON, PageJson, RawJson, changeEntryJson } from './registryJson';
export type { MemoryRegistryStoreOptions } from './MemoryRegistryStore';
export { InBrowserRegistry } from './InBrowserRegistry';
export type { InBrowserRegistryOptions } from './InBrowserRegistry';
export { InBrowserRegistryClient } from './InBrowserRegistryClient';
export { WebSocketRegistryClient } from './WebSocketRegistryClient';
export { RegistryService, DEFAULT_MAX_WATCHES_PER_SESSION, DEFAULT_MAX_REPLY_BYTES, DEFAULT_MAX_PAGE_ENTRIES } from './RegistryService';
export type { WatchBudget, SessionNotify, RegistrySession, SessionChannel } from './sessionTypes';
export type { RegistryServiceOptions } from './RegistryService';
export type { RegistryClientEvents } from './clientEvents';
export { RegistryMethod, REGISTRY_CHANGE_NOTIFICATION, REGISTRY_RESYNC_NOTIFICATION, MAX_WATCH_ID_LENGTH } from './registryProtocol';
export type {
  KeyParams,
  ValueParams,
  ListParams,
  WatchParams,
  UnwatchParams,
  StatusResult,
  GetResult,
  ListResult,
  ChangeNotification,
} from './registryProtocol';
export { MAX_VALUE_DEPTH } from './registryValue';
export { MemoryRegistryStorage, DEFAULT_MAX_LOG_ENTRIES, DEFAULT_MAX_LOG_BYTES } from './MemoryRegistryStorage';
export type { MemoryRegistryStorageOptions } from './MemoryRegistryStorage';
export { Lock } from './Lock';
export type { LockEvents, LockOptions, LockAcquireOptions, LockValue } from './Lock';
export { LeaderElection } from './LeaderElection';
export type { LeaderElectionEvents, LeaderElectionOptions } from './LeaderElection';
export { DEFAULT_MAX_WAITS_PER_SESSION } from './RegistryService';
export { REGISTRY_SNAPSHOT_NOTIFICATION, REGISTRY_WAITED_NOTIFICATION } from './registryProtocol';
export type { WriteParams, RemoveParams, CancelParams, WatchResult, WriteReply, SnapshotNotification, WaitedNotification } from './registryProtocol';
export {
  ROOM_COLLECTION_PREFIX,
  ROOM_MEMBER_PREFIX,
  ROOM_STATE_PREFIX,
  DEFAULT_ROOM_STATE_TTL_MS,
  DEFAULT_MAX_ROOM_STATE_ENTRIES,
  DEFAULT_MAX_ROOM_STATE_BYTES,
} from './rooms';
