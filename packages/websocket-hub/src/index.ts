export { WebSocketFactory } from './WebSocketFactory';
export type { WebSocketFactoryOptions, VnfSocket, SessionStore } from './WebSocketFactory';
export type { ReconnectOptions } from './backoff';
export { WebSocketHub } from './WebSocketHub';
export type { WebSocketHubOptions } from './WebSocketHub';
export { WebSocketEndpoint } from './WebSocketEndpoint';
export { WebSocketRpc } from './WebSocketRpc';
export type { WebSocketRpcOptions } from './WebSocketRpc';
export * from './protocol';
