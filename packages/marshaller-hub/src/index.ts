export { MarshallerHub } from './MarshallerHub';
export { MarshallerEndpoint } from './MarshallerEndpoint';
export {
  DEFAULT_CHUNK_SIZE,
  DEFAULT_HIGH_WATER_MARK,
  DEFAULT_MAX_MESSAGE_SIZE,
  DEFAULT_REASSEMBLY_TIMEOUT_MS,
  MIN_CHUNK_SIZE,
} from './options';
export type { MarshallerHubOptions, MarshallerConfig } from './options';
