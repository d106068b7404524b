import { VnfError } from '@vnf/core';
import { MAX_FRAME_HEADER, MAX_TOTAL_SIZE } from './frames';

/** Options of a MarshallerHub. Every field is optional; the defaults are documented in README.md. */
export interface MarshallerHubOptions {
  /** Largest message `send` accepts, in bytes after serialization (JSON text as UTF-8 plus binary). Default 64 MiB. */
  maxMessageSize?: number;
  /**
   * Largest frame handed to the inner endpoint, in bytes, header included.
   * Default: 16 KiB (safe on every WebRTC data channel), or the inner hub's `maxPayloadSize` when smaller.
   */
  chunkSize?: number;
  /** Deliver messages in exact send order (hold completed messages until earlier ones complete). Default false. */
  strictOrder?: boolean;
  /** A message in transfer is discarded (with an `error` event) after this long without a chunk of it, in ms. Default 30 000. */
  reassemblyTimeoutMs?: number;
  /** Sending pauses while the inner endpoint has this many bytes or more buffered toward the peer. Default 1 MiB. */
  highWaterMark?: number;
}

/** Options after defaults and validation. */
export interface MarshallerConfig {
  readonly maxMessageSize: number;
  readonly chunkSize: number;
  readonly strictOrder: boolean;
  readonly reassemblyTimeoutMs: number;
  readonly highWaterMark: number;
}

export const DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024;
export const DEFAULT_CHUNK_SIZE = 16 * 1024;
export const DEFAULT_REASSEMBLY_TIMEOUT_MS = 30_000;
export const DEFAULT_HIGH_WATER_MARK = 1024 * 1024;
/** Below this a frame would be mostly header. */
export const MIN_CHUNK_SIZE = 64;

export function resolveOptions(options: MarshallerHubOptions, innerMaxPayloadSize: number): MarshallerConfig {
  if (typeof options !== 'object' || options === null) {
    throw new VnfError('INVALID_ARGUMENT', 'MarshallerHub options must be an object (or omitted).');
  }
  if (typeof innerMaxPayloadSize !== 'number' || !(innerMaxPayloadSize >= MIN_CHUNK_SIZE)) {
    throw new VnfError(
      'INVALID_ARGUMENT',
      `The inner hub's maxPayloadSize must be a number of at least ${MIN_CHUNK_SIZE} bytes; got ${String(innerMaxPayloadSize)}. ` +
        'Wrap a hub whose frames can hold a MarshallerHub chunk.',
    );
  }
  const {
    maxMessageSize = DEFAULT_MAX_MESSAGE_SIZE,
    chunkSize = Math.min(DEFAULT_CHUNK_SIZE, Math.floor(innerMaxPayloadSize)),
    strictOrder = false,
    reassemblyTimeoutMs = DEFAULT_REASSEMBLY_TIMEOUT_MS,
    highWaterMark = DEFAULT_HIGH_WATER_MARK,
  } = options;
  if (!Number.isInteger(maxMessageSize) || maxMessageSize < 1 || maxMessageSize > MAX_TOTAL_SIZE) {
    throw new VnfError(
      'INVALID_ARGUMENT',
      `maxMessageSize must be an integer from 1 to ${MAX_TOTAL_SIZE} bytes; got ${String(maxMessageSize)}.`,
    );
  }
  if (!Number.isInteger(chunkSize) || chunkSize < MIN_CHUNK_SIZE || chunkSize > innerMaxPayloadSize) {
    throw new VnfError(
      'INVALID_ARGUMENT',
      `chunkSize must be an integer from ${MIN_CHUNK_SIZE} to the inner hub's maxPayloadSize (${innerMaxPayloadSize}) bytes; ` +
        `got ${String(chunkSize)}. It counts the ${MAX_FRAME_HEADER}-byte frame header.`,
    );
  }
  if (typeof strictOrder !== 'boolean') {
    throw new VnfError('INVALID_ARGUMENT', `strictOrder must be true or false; got ${typeof strictOrder}.`);
  }
  if (typeof reassemblyTimeoutMs !== 'number' || !(reassemblyTimeoutMs > 0) || !Number.isFinite(reassemblyTimeoutMs)) {
    throw new VnfError('INVALID_ARGUMENT', `reassemblyTimeoutMs must be a positive finite number; got ${String(reassemblyTimeoutMs)}.`);
  }
  if (typeof highWaterMark !== 'number' || !(highWaterMark > 0)) {
    throw new VnfError('INVALID_ARGUMENT', `highWaterMark must be a positive number of bytes; got ${String(highWaterMark)}.`);
  }
  return { maxMessageSize, chunkSize, strictOrder, reassemblyTimeoutMs, highWaterMark };
}
