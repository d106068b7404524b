import { VnfError, option, optionsSchema, waterMarksOver } from '@vnf/core';
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
   * @default a quarter of the inner hub's `maxPayloadSize`, at most 262144 (256 KiB): 16 KiB over RtcHub, 256 KiB over
   * WebSocketHub and InBrowserHub
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
   * Bytes accepted by `send` and not yet sent (`bufferedAmount`: this layer's queue and the inner endpoint's buffer)
   * past which an endpoint owes its peer a `drain`.
   * @default 4194304 (4 MiB), or twice lowWaterMark when that is more
   */
  highWaterMark?: number;
  /**
   * `bufferedAmount` at or below which an owed `drain` fires; at least the inner hub's highWaterMark, so that the
   * inner layer's own `drain` always comes before this one is due.
   * @default 1048576 (1 MiB), or the inner hub's highWaterMark when that is more
   */
  lowWaterMark?: number;
}

/** Options after defaults and validation. */
export interface MarshallerConfig {
  readonly maxMessageSize: number;
  readonly chunkSize: number;
  readonly strictOrder: boolean;
  readonly reassemblyTimeoutMs: number;
  readonly highWaterMark: number;
  readonly lowWaterMark: number;
  /** The inner hub's highWaterMark: frames wait while the inner endpoint holds more (it then owes a `drain`). */
  readonly innerHighWaterMark: number;
}

export const DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024;
/**
 * The default chunkSize is a quarter of the inner hub's frame limit, so the inner hub can coalesce a few chunks into
 * one frame (RtcHub into 64 KiB messages, WebSocketHub into 1 MiB batches), and at most this. Measured with
 * bench/scenarios/marshaller.js: over WebSocketHub 256 KiB chunks took 3-8 % less CPU than 16 KiB ones at the same
 * rate and peak memory, 1 MiB ones more peak memory; over RtcHub 64 KiB chunks were slower than 16 KiB ones.
 */
export const DEFAULT_CHUNK_SIZE = 256 * 1024;
export const DEFAULT_REASSEMBLY_TIMEOUT_MS = 30_000;
export const DEFAULT_HIGH_WATER_MARK = 4 * 1024 * 1024;
export const DEFAULT_LOW_WATER_MARK = 1024 * 1024;
/** Below this a frame would be mostly header. */
export const MIN_CHUNK_SIZE = 64;

const SCHEMA = optionsSchema('MarshallerHub', {
  maxMessageSize: option.integer({ min: 1, max: MAX_TOTAL_SIZE, default: DEFAULT_MAX_MESSAGE_SIZE }),
  // Its default and upper bound come from the inner hub: see resolveOptions.
  chunkSize: option.integer({ min: MIN_CHUNK_SIZE }),
  strictOrder: option.boolean({ default: false }),
  reassemblyTimeoutMs: option.number({ above: 0, default: DEFAULT_REASSEMBLY_TIMEOUT_MS }),
  // Their defaults depend on the inner hub's marks: see resolveOptions.
  highWaterMark: option.number({ above: 0 }),
  lowWaterMark: option.number({ min: 0 }),
});

export function resolveOptions(
  options: MarshallerHubOptions,
  innerMaxPayloadSize: number,
  innerMarks: { highWaterMark: number; lowWaterMark: number } = { highWaterMark: Infinity, lowWaterMark: 0 },
): MarshallerConfig {
  if (typeof innerMaxPayloadSize !== 'number' || !(innerMaxPayloadSize >= MIN_CHUNK_SIZE)) {
    throw new VnfError(
      'INVALID_ARGUMENT',
      `The inner hub's maxPayloadSize must be a number of at least ${MIN_CHUNK_SIZE} bytes; got ${String(innerMaxPayloadSize)}. ` +
        'Wrap a hub whose frames can hold a MarshallerHub chunk.',
    );
  }
  const resolved = SCHEMA.resolve(options);
  const chunkSize = resolved.chunkSize ?? Math.max(MIN_CHUNK_SIZE, Math.min(DEFAULT_CHUNK_SIZE, Math.floor(innerMaxPayloadSize / 4)));
  if (chunkSize > innerMaxPayloadSize) {
    throw SCHEMA.invalid(
      `chunkSize (${chunkSize}) must be at most the inner hub's maxPayloadSize (${innerMaxPayloadSize}) bytes. It counts the ${MAX_FRAME_HEADER}-byte frame header.`,
    );
  }
  const marks = waterMarksOver('MarshallerHub', innerMarks, resolved, { highWaterMark: DEFAULT_HIGH_WATER_MARK, lowWaterMark: DEFAULT_LOW_WATER_MARK });
  return { ...resolved, ...marks, chunkSize, innerHighWaterMark: innerMarks.highWaterMark };
}
