import { VnfError, option, optionsSchema } from '@vnf/core';
import { MAX_FRAME_HEADER, MAX_TOTAL_SIZE } from './frames';

/** Options of a MarshallerHub. Every field is optional; an unknown or invalid one throws INVALID_ARGUMENT. */
export interface MarshallerHubOptions {
  /**
   * Largest message `send` accepts, in bytes after serialization (JSON text as UTF-8 plus binary); 1 to 2³²−1.
   * @default 67108864 (64 MiB)
   */
  maxMessageSize?: number;
  /**
   * Largest frame handed to the inner endpoint, in bytes, header included; 64 to the inner hub's `maxPayloadSize`.
   * @default 16384 (16 KiB, safe on every WebRTC data channel), or the inner hub's `maxPayloadSize` when smaller
   */
  chunkSize?: number;
  /**
   * Deliver messages in exact send order (hold completed messages until earlier ones complete).
   * @default false
   */
  strictOrder?: boolean;
  /**
   * A message in transfer is discarded (with an `error` event) after this long without a chunk of it, in ms.
   * @default 30000
   */
  reassemblyTimeoutMs?: number;
  /**
   * Sending pauses while the inner endpoint has this many bytes or more buffered toward the peer.
   * @default 1048576 (1 MiB)
   */
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

const SCHEMA = optionsSchema('MarshallerHub', {
  maxMessageSize: option.integer({ min: 1, max: MAX_TOTAL_SIZE, default: DEFAULT_MAX_MESSAGE_SIZE }),
  // Its default and upper bound come from the inner hub: see resolveOptions.
  chunkSize: option.integer({ min: MIN_CHUNK_SIZE }),
  strictOrder: option.boolean({ default: false }),
  reassemblyTimeoutMs: option.number({ above: 0, default: DEFAULT_REASSEMBLY_TIMEOUT_MS }),
  highWaterMark: option.number({ above: 0, allowInfinity: true, default: DEFAULT_HIGH_WATER_MARK }),
});

export function resolveOptions(options: MarshallerHubOptions, innerMaxPayloadSize: number): MarshallerConfig {
  if (typeof innerMaxPayloadSize !== 'number' || !(innerMaxPayloadSize >= MIN_CHUNK_SIZE)) {
    throw new VnfError(
      'INVALID_ARGUMENT',
      `The inner hub's maxPayloadSize must be a number of at least ${MIN_CHUNK_SIZE} bytes; got ${String(innerMaxPayloadSize)}. ` +
        'Wrap a hub whose frames can hold a MarshallerHub chunk.',
    );
  }
  const resolved = SCHEMA.resolve(options);
  const chunkSize = resolved.chunkSize ?? Math.min(DEFAULT_CHUNK_SIZE, Math.floor(innerMaxPayloadSize));
  if (chunkSize > innerMaxPayloadSize) {
    throw SCHEMA.invalid(
      `chunkSize (${chunkSize}) must be at most the inner hub's maxPayloadSize (${innerMaxPayloadSize}) bytes. It counts the ${MAX_FRAME_HEADER}-byte frame header.`,
    );
  }
  return { ...resolved, chunkSize };
}
