export { ErrorCode, VnfError } from './errors';
export { Global, ConnectionStatus } from './status';
export type { Status } from './status';
export type { Payload } from './payload';
export { isBinary, payloadByteLength, utf8Length, decodeUtf8, validateWirePayload, copyBinary, toUint8Array } from './payload';
export { MAX_EVA_LENGTH, validateEva } from './eva';
export type { ConnectionEvent, MessageEvent, EndpointEvents, Endpoint, Hub, SubProtocolChannel, MultiplexingEndpoint } from './contract';
export type {
  RegistryKey,
  RegistryEntry,
  RegistryChange,
  RegistryWatcher,
  RegistryClient,
  RegistryStore,
  RegistryPage,
  RegistryPageRequest,
  RegistrySnapshot,
  RegistryWatchEvent,
  RegistrySnapshotWatcher,
  RegistryWatchOptions,
  RegistryCondition,
  RegistryWill,
  RegistryRemoveOptions,
  RegistryWriteOptions,
  RegistryWriteResult,
  RegistrySubject,
  RegistryAction,
  RegistryResource,
  RegistryAuthorize,
  RegistryAccess,
  StoreWriteOptions,
  StoreRemoveOptions,
  StoreWatchOptions,
} from './registry';
export { defaultAuthorize } from './registry';
export type { RegistryStorage, StoredRecord, StorageChange, ChangesSince, WriteCondition, WriteOutcome, OwnerQuota, RecordValue, StoredWill } from './registryStorage';
export { createLogger } from './log';
export { deferred, createMacrotaskQueue } from './async';
export type { Deferred } from './async';
export { AbstractEndpoint, DEFAULT_CONNECT_TIMEOUT_MS } from './AbstractEndpoint';
export type { EndpointOptions } from './AbstractEndpoint';
export { AbstractHub, OPEN_SHARED, openInnerEndpoint } from './AbstractHub';
export { DecoratorEndpoint } from './DecoratorEndpoint';
export { DecoratorHub } from './DecoratorHub';
export type { Rpc } from './rpc';
export { callUserListener, callUserListenerWith } from './listeners';
export type { ErrorEmitter } from './listeners';
export { optionsSchema, option, waterMarksOver, type OptionsSchema, type OptionSpec, type OptionFields, type ResolvedOptions, type SchemaRules } from './options';
