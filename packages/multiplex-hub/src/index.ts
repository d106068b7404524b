export { MultiplexHub } from './MultiplexHub';
export { MultiplexEndpoint } from './MultiplexEndpoint';
export { SubProtocol } from './SubProtocol';
export type { SubProtocolEvents, SubProtocolHost } from './SubProtocol';
export type { MultiplexHubOptions } from './options';
