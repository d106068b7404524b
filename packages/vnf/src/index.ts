// The umbrella: VNF's public API under one import, as the seed uses it (`new Vnf.InBrowserHub()`), and the
// browser bundle's `window.Vnf`. Values are listed one by one: what a package exports for its siblings (the
// broker's registry service, codec helpers, internal utilities) stays out. test/publicApi.test.ts holds the
// reviewed list; a new name must be added there on purpose.
export {
  AbstractEndpoint,
  AbstractHub,
  ConnectionStatus,
  DecoratorEndpoint,
  DecoratorHub,
  ErrorCode,
  Global,
  MAX_EVA_LENGTH,
  VnfError,
  callUserListener,
  defaultAuthorize,
  isBinary,
  validateEva,
} from '@vnf/core';
export { InBrowserEndpoint, InBrowserHub } from '@vnf/in-browser-hub';
export { InBrowserRegistry, InBrowserRegistryClient, LeaderElection, Lock, MemoryRegistryStore, WebSocketRegistryClient } from '@vnf/registry';
export { CloseCode, WebSocketEndpoint, WebSocketFactory, WebSocketHub, WebSocketRpc } from '@vnf/websocket-hub';
export { ANY, ChaosController, DEFAULT_RULES, UnreliableEndpoint, UnreliableHub } from '@vnf/unreliable-hub';
export { ReliableEndpoint, ReliableHub } from '@vnf/reliable-hub';
export { MarshallerEndpoint, MarshallerHub } from '@vnf/marshaller-hub';
export { ReliableRtcHub, RtcEndpoint, RtcHub } from '@vnf/rtc-hub';
export { MultiplexEndpoint, MultiplexHub, SubProtocol } from '@vnf/multiplex-hub';
export { PeerServices } from '@vnf/services';
export { Room } from '@vnf/rooms';
export { IncomingTransfer, OutgoingTransfer, PeerStreams, collectBlob, collectBytes } from '@vnf/streams';
export { Identity, MemoryKeyStore, SecureEndpoint, SecureHub, fingerprint } from '@vnf/secure-hub';

// Every type of the packages above (types cost nothing at run time and are what TypeScript users compose with).
export type * from '@vnf/core';
export type * from '@vnf/in-browser-hub';
export type * from '@vnf/registry';
export type * from '@vnf/websocket-hub';
export type * from '@vnf/unreliable-hub';
export type * from '@vnf/reliable-hub';
export type * from '@vnf/marshaller-hub';
export type * from '@vnf/rtc-hub';
export type * from '@vnf/multiplex-hub';
export type * from '@vnf/services';
export type * from '@vnf/rooms';
export type * from '@vnf/streams';
export type * from '@vnf/secure-hub';
