/** Stable error codes. Code that handles errors should switch on these, never on messages. */
export const ErrorCode = {
  /** `send` to an eva with no open connection. */
  NOT_CONNECTED: 'NOT_CONNECTED',
  /** The target eva (or registry entry) does not exist. */
  NOT_FOUND: 'NOT_FOUND',
  /** A wait ran out of time. */
  TIMEOUT: 'TIMEOUT',
  /** The eva is already open in this hub (or held by another live socket on the broker). */
  EVA_IN_USE: 'EVA_IN_USE',
  /** The payload is of a type this layer cannot carry. */
  INVALID_PAYLOAD: 'INVALID_PAYLOAD',
  /** An argument or option is invalid (bad eva, bad key, bad option combination). */
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  /** The payload or message exceeds the layer's limit. */
  TOO_LARGE: 'TOO_LARGE',
  /** Authentication failed or an origin is not allowed. */
  UNAUTHORIZED: 'UNAUTHORIZED',
  /** The caller is not allowed to do this (for example, change another owner's registry entry). */
  FORBIDDEN: 'FORBIDDEN',
  /** The peer spoke the protocol wrongly (malformed frame, unknown type, wrong version). */
  PROTOCOL: 'PROTOCOL',
  /** The endpoint, hub or client was destroyed or closed. */
  DESTROYED: 'DESTROYED',
  /** The transport is down (socket closed, reconnecting); try again later. */
  UNAVAILABLE: 'UNAVAILABLE',
  /** A bounded buffer is full; slow down or wait for the peer to catch up. */
  BUFFER_FULL: 'BUFFER_FULL',
  /** Too many requests in too little time. */
  RATE_LIMITED: 'RATE_LIMITED',
  /** An optional dependency this feature needs is not installed. */
  MISSING_DEPENDENCY: 'MISSING_DEPENDENCY',
  /** A user-supplied listener (onMessage, a callback) threw. */
  LISTENER_ERROR: 'LISTENER_ERROR',
  /** The peer restarted, so messages in flight may be lost: the connection is reported lost instead. */
  PEER_RESTARTED: 'PEER_RESTARTED',
  /**
   * Ciphertext failed its check (SecureHub): a record was tampered with, replayed, reordered or forged. Over an
   * ordered inner hub it ends the connection; over a lossy one the record is dropped and counted.
   */
  INTEGRITY: 'INTEGRITY',
  /**
   * The peer could not prove the key expected of it (SecureHub): its key differs from the one pinned for its eva,
   * or the handshake did not authenticate. The `reason` of a FAILED `openConnection`.
   */
  KEY_MISMATCH: 'KEY_MISMATCH',
  /** The caller gave up on the operation (its AbortSignal fired, or it cancelled a call): nothing more happens for it. */
  CANCELLED: 'CANCELLED',
  /** The other side is older than this feature: upgrade it (the message names the option or method). */
  UNSUPPORTED: 'UNSUPPORTED',
  /** Anything the other codes do not describe; the message and `cause` say more. */
  INTERNAL: 'INTERNAL',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The one error class of VNF. `code` is stable; `message` says what to do. */
export class VnfError extends Error {
  readonly code: ErrorCode;
  /** Extra machine-readable context (eva, limits, …). */
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'VnfError';
    this.code = code;
    if (options?.details) this.details = options.details;
  }

  /** True when `err` is a VnfError, optionally with the given code (works across package copies). */
  static is(err: unknown, code?: ErrorCode): err is VnfError {
    return (
      typeof err === 'object' &&
      err !== null &&
      (err as { name?: unknown }).name === 'VnfError' &&
      typeof (err as { code?: unknown }).code === 'string' &&
      (code === undefined || (err as { code: unknown }).code === code)
    );
  }
}
