export { WebSocketFactory } from './WebSocketFactory';
export type { WebSocketFactoryOptions, VnfSocket, SessionStore } from './WebSocketFactory';
export type { ReconnectOptions } from './backoff';
export type { UrlStart } from './UrlRotation';
export { WebSocketHub } from './WebSocketHub';
export type { WebSocketHubOptions } from './WebSocketHub';
export { WebSocketEndpoint } from './WebSocketEndpoint';
export { WebSocketRpc } from './WebSocketRpc';
export type { WebSocketRpcOptions } from './WebSocketRpc';
// The wire format lives in @vnf/protocol (shared with the broker); what an app needs of it is re-exported here.
export { CloseCode } from '@vnf/protocol';
export type { Role } from '@vnf/protocol';
