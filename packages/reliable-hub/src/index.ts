export { ReliableHub } from './ReliableHub';
export { ReliableEndpoint } from './ReliableEndpoint';
export type { ReliableHubOptions } from './options';
