export {
  PeerServices,
  DEFAULT_CALL_TIMEOUT_MS,
  DEFAULT_MAX_PENDING_CALLS,
  DEFAULT_CONCURRENCY,
  DEFAULT_MAX_QUEUED,
  DEFAULT_SUB_PROTOCOL,
  DEFAULT_COLLECTION_PREFIX,
} from './PeerServices';
export { MAX_SERVICE_NAME_LENGTH } from './frames';
export type {
  ServiceContext,
  ServiceHandler,
  ProvideOptions,
  Provision,
  CallOptions,
  CallAnyOptions,
  PeerServicesOptions,
  PeerServicesEvents,
} from './types';
