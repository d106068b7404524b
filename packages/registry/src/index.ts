export { MemoryRegistryStore, DEFAULT_MAX_VALUE_BYTES, DEFAULT_MAX_ENTRIES_PER_OWNER, DEFAULT_MAX_KEY_LENGTH, DEFAULT_MAX_BYTES_PER_OWNER, ENTRY_JSON, PageJson, RawJson, changeEntryJson } from './MemoryRegistryStore';
export type { MemoryRegistryStoreOptions } from './MemoryRegistryStore';
export { InBrowserRegistry } from './InBrowserRegistry';
export type { InBrowserRegistryOptions } from './InBrowserRegistry';
export { InBrowserRegistryClient } from './InBrowserRegistryClient';
export { WebSocketRegistryClient } from './WebSocketRegistryClient';
export { RegistryService, DEFAULT_MAX_WATCHES_PER_SESSION, DEFAULT_MAX_REPLY_BYTES, DEFAULT_MAX_PAGE_ENTRIES } from './RegistryService';
export type { WatchBudget, SessionNotify } from './ServiceSession';
export type { RegistryServiceOptions, RegistrySession, SessionChannel } from './RegistryService';
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
