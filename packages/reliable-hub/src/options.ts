import { DEFAULT_CONNECT_TIMEOUT_MS, option, optionsSchema, type ResolvedOptions as Resolved } from '@vnf/core';

/** Options of `ReliableHub`. Every field is optional; an unknown or invalid one throws INVALID_ARGUMENT. */
export interface ReliableHubOptions {
  /**
   * How long `openConnection` waits for the inner connection and the reliable handshake, ms.
   * @default 10000
   */
  connectTimeoutMs?: number;
  /**
   * How long a broken connection may take to come back before it is reported lost, ms.
   * @default 15000
   */
  restoreTimeoutMs?: number;
  /**
   * A probe is sent when nothing was heard from the peer for this long, ms. Below `heartbeatTimeoutMs`.
   * @default 1000
   */
  heartbeatIntervalMs?: number;
  /**
   * Silence after which a connection counts as broken and restoring starts, ms.
   * @default 5000
   */
  heartbeatTimeoutMs?: number;
  /**
   * Messages in flight (sent, not yet acknowledged) per connection.
   * @default 4096
   */
  sendWindow?: number;
  /**
   * Bytes accepted by `send` and not yet acknowledged, per connection, before `send` throws BUFFER_FULL.
   * @default 16777216 (16 MiB)
   */
  maxBufferedBytes?: number;
  /**
   * Messages accepted by `send` and not yet acknowledged, per connection, before `send` throws BUFFER_FULL.
   * @default 8192
   */
  maxBufferedMessages?: number;
  /**
   * Unacknowledged bytes (`bufferedAmount`) past which an endpoint owes its peer a `drain`. Below `maxBufferedBytes`.
   * @default 2097152 (2 MiB)
   */
  highWaterMark?: number;
  /**
   * `bufferedAmount` at or below which an owed `drain` fires (a send refused BUFFER_FULL owes one too). Below `highWaterMark`.
   * @default 1048576 (1 MiB)
   */
  lowWaterMark?: number;
  /**
   * Sending to the inner endpoint pauses once it holds more than this many bytes toward the peer, until its `drain`.
   * @default the inner hub's highWaterMark (where the inner endpoint owes a drain), or 1 MiB when it has none
   */
  innerHighWaterMark?: number;
  /** @deprecated Renamed `lowWaterMark`; the old name stops working in the next release. */
  lowWaterMarkBytes?: number;
  /** @deprecated Renamed `innerHighWaterMark`; the old name stops working in the next release. */
  innerHighWaterMarkBytes?: number;
  /**
   * Retransmission timeout before the first round-trip is measured, ms.
   * @default 300
   */
  initialRtoMs?: number;
  /**
   * Lower bound of the retransmission timeout, ms.
   * @default 50
   */
  minRtoMs?: number;
  /**
   * Upper bound of the retransmission timeout, backoff included, ms.
   * @default 2000
   */
  maxRtoMs?: number;
  /**
   * Longest delay of an acknowledgement, so several messages share one; the probe timeout allows for it, ms.
   * @default 5
   */
  ackDelayMs?: number;
  /**
   * First delay between attempts to re-open a dropped inner connection; doubles each time, ms.
   * @default 100
   */
  reconnectBaseMs?: number;
  /**
   * Longest delay between attempts to re-open a dropped inner connection, ms.
   * @default 2000
   */
  reconnectMaxMs?: number;
}

const positive = (fallback: number, renamedFrom?: string) => option.number({ above: 0, default: fallback, renamedFrom });
const positiveInteger = (fallback: number) => option.integer({ min: 1, default: fallback });

const FIELDS = {
  connectTimeoutMs: positive(DEFAULT_CONNECT_TIMEOUT_MS),
  restoreTimeoutMs: positive(15_000),
  heartbeatIntervalMs: positive(1_000),
  heartbeatTimeoutMs: positive(5_000),
  sendWindow: positiveInteger(4096),
  maxBufferedBytes: positive(16 * 1024 * 1024),
  maxBufferedMessages: positiveInteger(8192),
  highWaterMark: positive(2 * 1024 * 1024),
  lowWaterMark: positive(1024 * 1024, 'lowWaterMarkBytes'),
  innerHighWaterMark: option.number({ above: 0, renamedFrom: 'innerHighWaterMarkBytes' }),
  initialRtoMs: positive(300),
  minRtoMs: positive(50),
  maxRtoMs: positive(2_000),
  ackDelayMs: positive(5),
  reconnectBaseMs: positive(100),
  reconnectMaxMs: positive(2_000),
};

/** The options after defaults were filled in. */
export type ResolvedOptions = Omit<Resolved<typeof FIELDS>, 'innerHighWaterMark'> & {
  innerHighWaterMark: number;
  /**
   * True when the inner endpoint owes a `drain` whenever sending paused on it (its marks are finite and the pause
   * is at or above its highWaterMark): the pause then waits for that event alone, with no timer.
   */
  innerDrains: boolean;
};

const SCHEMA = optionsSchema('ReliableHub', FIELDS, {
  check: (o) =>
    below(o, 'heartbeatIntervalMs', 'heartbeatTimeoutMs') ??
    atMost(o, 'minRtoMs', 'initialRtoMs') ??
    atMost(o, 'initialRtoMs', 'maxRtoMs') ??
    below(o, 'lowWaterMark', 'highWaterMark') ??
    below(o, 'highWaterMark', 'maxBufferedBytes') ??
    atMost(o, 'reconnectBaseMs', 'reconnectMaxMs'),
});

/** Fills in defaults and throws INVALID_ARGUMENT for a bad value, an unknown key or a bad combination. */
export function resolveOptions(options: ReliableHubOptions | undefined, innerHighWaterMark = Infinity): ResolvedOptions {
  const resolved = SCHEMA.resolve(options);
  const pause = resolved.innerHighWaterMark ?? (Number.isFinite(innerHighWaterMark) ? innerHighWaterMark : DEFAULT_INNER_HIGH_WATER_MARK);
  return { ...resolved, innerHighWaterMark: pause, innerDrains: Number.isFinite(innerHighWaterMark) && pause >= innerHighWaterMark };
}

/** Where sending pauses over an inner hub without drain marks. */
const DEFAULT_INNER_HIGH_WATER_MARK = 1024 * 1024;

type Checked = Resolved<typeof FIELDS>;
/** The options compared with one another (each has a default). */
type Key = Exclude<keyof Checked, 'innerHighWaterMark'>;

function below(o: Checked, small: Key, large: Key): string | undefined {
  return o[small] < o[large] ? undefined : `${small} (${o[small]}) must be less than ${large} (${o[large]}).`;
}

function atMost(o: Checked, small: Key, large: Key): string | undefined {
  return o[small] <= o[large] ? undefined : `${small} (${o[small]}) must not exceed ${large} (${o[large]}).`;
}
