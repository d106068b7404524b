import { MAX_EVA_LENGTH } from '@vnf/core';

/** The wire protocol version sent in `hello`. The broker closes with CloseCode.VERSION when it does not speak it. */
export const PROTOCOL_VERSION = 1;

/** Default largest WebSocket frame the broker accepts (and sends), in bytes. */
export const DEFAULT_MAX_FRAME = 1024 * 1024;

/** Bytes of a record header before the eva: kind (u8) + eva length (u16). After the eva: payload length (u32). */
export const RECORD_HEADER_BYTES = 7;

/**
 * Bytes reserved in a frame for one record's envelope: header plus the longest eva in UTF-8.
 * A payload of `maxFrame - ENVELOPE_BYTES` always fits in one frame.
 */
export const ENVELOPE_BYTES = 1024;

/** Longest group id (docs/protocol.md, Groups): printable ASCII, so its JSON and record forms are the same bytes. */
export const MAX_GROUP_ID_LENGTH = 64;

/** UTF-8 bytes of the longest eva (each UTF-16 unit encodes to at most 3 bytes). */
export const MAX_EVA_BYTES = MAX_EVA_LENGTH * 3;

/** What a record in a binary frame carries. */
export const RecordKind = {
  /** A control message: JSON text (UTF-8); the record's eva is empty. */
  CONTROL: 0,
  /** A string message: UTF-8 text. The eva is the target (client → broker) or the source (broker → client). */
  TEXT: 1,
  /** A binary message: raw bytes, never base64. Eva as for TEXT. */
  BINARY: 2,
  /**
   * Client → broker only, to a broker whose welcome announced `groups`: a string message for every member of the
   * sender's group named by the eva field (a group id). Each member gets an ordinary TEXT record.
   */
  GROUP_TEXT: 3,
  /** As GROUP_TEXT, for a binary message: each member gets an ordinary BINARY record. */
  GROUP_BINARY: 4,
} as const;
export type RecordKind = (typeof RecordKind)[keyof typeof RecordKind];

/** WebSocket close codes the broker uses; documented in docs/protocol.md. */
export const CloseCode = {
  /** Normal closure (the client closed or was destroyed). */
  NORMAL: 1000,
  /** The broker is shutting down; reconnect later. */
  GOING_AWAY: 1001,
  /** A frame exceeded the broker's maxPayload (sent by the ws library). */
  TOO_LARGE: 1009,
  /** The broker failed while handling this socket (its router or store failed); reconnect later. */
  INTERNAL: 1011,
  /** The client broke the handshake: no valid hello first, or a frame before the welcome. */
  PROTOCOL: 4000,
  /** The authenticate hook refused the hello, or the Origin is not on the allow-list. */
  UNAUTHORIZED: 4001,
  /** The hello's protocol version is not spoken by this broker. */
  VERSION: 4002,
  /** Another live socket holds this eva (and the hello's session token did not prove otherwise). */
  EVA_IN_USE: 4003,
  /** A reconnect of the same endpoint (proven by its session token) replaced this socket. */
  TAKEN_OVER: 4004,
  /** This socket did not read fast enough: its send buffer passed the broker's bound. */
  SLOW_CONSUMER: 4005,
  /** This socket sent more messages per second than the broker's flood limit. */
  RATE_LIMITED: 4006,
  /** No hello arrived within the broker's hello timeout. */
  HELLO_TIMEOUT: 4007,
  /** This client (by default, this remote address) holds as many sockets or evas as the broker allows one client; retry later. */
  CLIENT_LIMIT: 4008,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** Close codes after which reconnecting cannot help: the client stops and reports the error. */
export const FATAL_CLOSE_CODES: ReadonlySet<number> = new Set<number>([
  CloseCode.UNAUTHORIZED,
  CloseCode.VERSION,
  CloseCode.EVA_IN_USE,
  CloseCode.TAKEN_OVER,
]);

/** The ErrorCode a close code stands for, for errors reported to the application. */
export function closeCodeToErrorCode(code: number): 'UNAUTHORIZED' | 'PROTOCOL' | 'EVA_IN_USE' | 'BUFFER_FULL' | 'RATE_LIMITED' | 'TOO_LARGE' | 'UNAVAILABLE' {
  switch (code) {
    case CloseCode.UNAUTHORIZED:
      return 'UNAUTHORIZED';
    case CloseCode.VERSION:
    case CloseCode.PROTOCOL:
    case CloseCode.HELLO_TIMEOUT:
      return 'PROTOCOL';
    case CloseCode.EVA_IN_USE:
    case CloseCode.TAKEN_OVER:
      return 'EVA_IN_USE';
    case CloseCode.SLOW_CONSUMER:
      return 'BUFFER_FULL';
    case CloseCode.RATE_LIMITED:
    case CloseCode.CLIENT_LIMIT:
      return 'RATE_LIMITED';
    case CloseCode.TOO_LARGE:
      return 'TOO_LARGE';
    default:
      return 'UNAVAILABLE';
  }
}
