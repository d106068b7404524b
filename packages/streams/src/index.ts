export { PeerStreams } from './PeerStreams';
export { OutgoingTransfer } from './OutgoingTransfer';
export { IncomingTransfer } from './IncomingTransfer';
export { collectBytes, collectBlob } from './collect';
export type { StreamSource } from './sources';
export type { PeerStreamsEvents, PeerStreamsOptions, SendOptions, TransferEvents, TransferMeta, TransferProgress, TransferResult } from './types';
