export { PROTOCOL_VERSION, DEFAULT_MAX_FRAME, RECORD_HEADER_BYTES, ENVELOPE_BYTES, MAX_EVA_BYTES, MAX_GROUP_ID_LENGTH, RecordKind, CloseCode, FATAL_CLOSE_CODES, closeCodeToErrorCode } from './constants';
export { FrameWriter, checkRecords, readRecords, recordCapacity, visitRecords } from './codec';
export type { RecordVisitor, StoppableRecordVisitor } from './codec';
export { parseClientMessage, parseBrokerMessage, MAX_TOKEN_LENGTH, MAX_METHOD_LENGTH } from './messages';
export type { ClientMessage, BrokerMessage, Role, WelcomeGroups, WelcomeLimits } from './messages';
// The RtcHub data-channel frame format (peer to peer, or relayed as opaque payloads): records without an eva.
export * as dataChannel from './dataChannel';
export type { Bus, BusMember, BusMessage, Router, RouteHolder, ClaimResult, RenewedClaim } from './cluster';
