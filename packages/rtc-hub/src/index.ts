export { RtcHub } from './RtcHub';
export { RtcEndpoint } from './RtcEndpoint';
export type { RtcEndpointEvents } from './RtcEndpoint';
export type { RtcHubOptions, RelayMode } from './options';
export type { Path } from './PathSwitch';
export type { WebRtcImplementation } from './webRtcImplementation';
export { ReliableRtcHub } from './ReliableRtcHub';
export type { ReliableRtcHubOptions } from './ReliableRtcHub';
