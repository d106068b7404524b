/** The reviewed public API of `vnf` and `window.Vnf` (values only; types are not there at run time). */
export const PUBLIC_API: readonly string[] = [
  // @vnf/core
  'AbstractEndpoint',
  'AbstractHub',
  'ConnectionStatus',
  'DecoratorEndpoint',
  'DecoratorHub',
  'ErrorCode',
  'Global',
  'MAX_EVA_LENGTH',
  'VnfError',
  'callUserListener',
  'defaultAuthorize',
  'isBinary',
  'validateEva',
  // @vnf/in-browser-hub
  'InBrowserEndpoint',
  'InBrowserHub',
  // @vnf/registry
  'InBrowserRegistry',
  'InBrowserRegistryClient',
  'LeaderElection',
  'Lock',
  'MemoryRegistryStore',
  'WebSocketRegistryClient',
  // @vnf/websocket-hub
  'CloseCode',
  'WebSocketEndpoint',
  'WebSocketFactory',
  'WebSocketHub',
  'WebSocketRpc',
  // @vnf/unreliable-hub
  'ANY',
  'ChaosController',
  'DEFAULT_RULES',
  'UnreliableEndpoint',
  'UnreliableHub',
  // @vnf/reliable-hub
  'ReliableEndpoint',
  'ReliableHub',
  // @vnf/marshaller-hub
  'MarshallerEndpoint',
  'MarshallerHub',
  // @vnf/rtc-hub
  'ReliableRtcHub',
  'RtcEndpoint',
  'RtcHub',
  // @vnf/multiplex-hub
  'MultiplexEndpoint',
  'MultiplexHub',
  'SubProtocol',
  // @vnf/services
  'PeerServices',
  // @vnf/rooms
  'Room',
  // @vnf/streams
  'IncomingTransfer',
  'OutgoingTransfer',
  'PeerStreams',
  'collectBlob',
  'collectBytes',
  // @vnf/secure-hub
  'Identity',
  'MemoryKeyStore',
  'SecureEndpoint',
  'SecureHub',
  'fingerprint',
];
