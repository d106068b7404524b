import { DEFAULT_CONNECT_TIMEOUT_MS, VnfError } from '@vnf/core';

/** Options of `ReliableHub`. Every field is optional; the defaults are listed in the README. */
export interface ReliableHubOptions {
  /** How long `openConnection` waits for the inner connection and the reliable handshake. Default 10 000 ms. */
  connectTimeoutMs?: number;
  /** How long a broken connection may take to come back before it is reported lost. Default 15 000 ms. */
  restoreTimeoutMs?: number;
  /** A probe is sent when nothing was heard from the peer for this long. Default 1 000 ms. */
  heartbeatIntervalMs?: number;
  /** Silence after which a connection counts as broken and restoring starts. Default 5 000 ms. */
  heartbeatTimeoutMs?: number;
  /** Messages in flight (sent, not yet acknowledged) per connection. Default 1024. */
  sendWindow?: number;
  /** Bytes accepted by `send` and not yet acknowledged, per connection, before `send` throws BUFFER_FULL. Default 16 MiB. */
  maxBufferedBytes?: number;
  /** Messages accepted by `send` and not yet acknowledged, per connection, before `send` throws BUFFER_FULL. Default 8192. */
  maxBufferedMessages?: number;
  /** `drain` fires when the buffered bytes fall below this after having reached it (or after BUFFER_FULL). Default 1 MiB. */
  lowWaterMarkBytes?: number;
  /** Sending pauses while the inner endpoint holds this many bytes toward the peer. Default 1 MiB. */
  innerHighWaterMarkBytes?: number;
  /** Retransmission timeout before the first round-trip is measured. Default 300 ms. */
  initialRtoMs?: number;
  /** Lower bound of the retransmission timeout. Default 50 ms. */
  minRtoMs?: number;
  /** Upper bound of the retransmission timeout, backoff included. Default 2 000 ms. */
  maxRtoMs?: number;
  /** Longest delay of an acknowledgement, so several messages share one; the probe timeout allows for it. Default 5 ms. */
  ackDelayMs?: number;
  /** First delay between attempts to re-open a dropped inner connection; doubles each time. Default 100 ms. */
  reconnectBaseMs?: number;
  /** Longest delay between attempts to re-open a dropped inner connection. Default 2 000 ms. */
  reconnectMaxMs?: number;
}

export type ResolvedOptions = Required<ReliableHubOptions>;

export const DEFAULT_OPTIONS: ResolvedOptions = {
  connectTimeoutMs: DEFAULT_CONNECT_TIMEOUT_MS,
  restoreTimeoutMs: 15_000,
  heartbeatIntervalMs: 1_000,
  heartbeatTimeoutMs: 5_000,
  sendWindow: 1024,
  maxBufferedBytes: 16 * 1024 * 1024,
  maxBufferedMessages: 8192,
  lowWaterMarkBytes: 1024 * 1024,
  innerHighWaterMarkBytes: 1024 * 1024,
  initialRtoMs: 300,
  minRtoMs: 50,
  maxRtoMs: 2_000,
  ackDelayMs: 5,
  reconnectBaseMs: 100,
  reconnectMaxMs: 2_000,
};

const INTEGER_OPTIONS = new Set<keyof ReliableHubOptions>(['sendWindow', 'maxBufferedMessages']);

/** Fills in defaults and throws INVALID_ARGUMENT for a bad value or combination. */
export function resolveOptions(options: ReliableHubOptions | undefined): ResolvedOptions {
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw new VnfError('INVALID_ARGUMENT', 'ReliableHub options must be an object (or omitted).');
  }
  const resolved = { ...DEFAULT_OPTIONS };
  for (const [key, value] of Object.entries(options ?? {})) {
    if (!(key in DEFAULT_OPTIONS)) {
      throw new VnfError('INVALID_ARGUMENT', `Unknown ReliableHub option "${key}". See the README for the options.`);
    }
    if (value === undefined) continue;
    const name = key as keyof ReliableHubOptions;
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || (INTEGER_OPTIONS.has(name) && !Number.isInteger(value))) {
      const kind = INTEGER_OPTIONS.has(name) ? 'a positive integer' : 'a positive finite number';
      throw new VnfError('INVALID_ARGUMENT', `ReliableHub option ${key} must be ${kind}; got ${String(value)}.`);
    }
    resolved[name] = value;
  }
  requireBelow(resolved, 'heartbeatIntervalMs', 'heartbeatTimeoutMs');
  requireAtMost(resolved, 'minRtoMs', 'initialRtoMs');
  requireAtMost(resolved, 'initialRtoMs', 'maxRtoMs');
  requireBelow(resolved, 'lowWaterMarkBytes', 'maxBufferedBytes');
  requireAtMost(resolved, 'reconnectBaseMs', 'reconnectMaxMs');
  return resolved;
}

function requireBelow(o: ResolvedOptions, small: keyof ResolvedOptions, large: keyof ResolvedOptions): void {
  if (!(o[small] < o[large])) {
    throw new VnfError('INVALID_ARGUMENT', `ReliableHub option ${small} (${o[small]}) must be less than ${large} (${o[large]}).`);
  }
}

function requireAtMost(o: ResolvedOptions, small: keyof ResolvedOptions, large: keyof ResolvedOptions): void {
  if (!(o[small] <= o[large])) {
    throw new VnfError('INVALID_ARGUMENT', `ReliableHub option ${small} (${o[small]}) must not exceed ${large} (${o[large]}).`);
  }
}
