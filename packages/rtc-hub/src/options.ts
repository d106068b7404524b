import { DEFAULT_CONNECT_TIMEOUT_MS, option, optionsSchema, waterMarksOver } from '@vnf/core';
import { dataChannel } from '@vnf/protocol';
import type { WebRtcImplementation } from './webRtcImplementation';

const { RECORD_OVERHEAD } = dataChannel;

/** When messages may travel over the signaling hub instead of a WebRTC data channel. */
export type RelayMode = 'never' | 'fallback';

/** Options of RtcHub. Every option is optional; an unknown or invalid one throws INVALID_ARGUMENT. */
export interface RtcHubOptions {
  /**
   * ICE servers (STUN/TURN) given to every RTCPeerConnection; none means host candidates only (same machine or LAN).
   * @default []
   */
  iceServers?: RTCIceServer[];
  /**
   * `'all'` or `'relay'` (only TURN candidates; needs a TURN server in `iceServers`).
   * @default 'all'
   */
  iceTransportPolicy?: RTCIceTransportPolicy;
  /**
   * Data channel delivery order.
   * @default true
   */
  ordered?: boolean;
  /**
   * Data channel retransmissions for unreliable delivery (an integer >= 0); mutually exclusive with `maxPacketLifeTime`.
   * @default unset: reliable
   */
  maxRetransmits?: number;
  /**
   * Data channel lifetime of a message in ms for unreliable delivery.
   * @default unset: reliable
   */
  maxPacketLifeTime?: number;
  /**
   * How long `openConnection` waits before it ends in TIMEOUT, ms.
   * @default 10000
   */
  connectTimeoutMs?: number;
  /**
   * How long ICE may take to connect a data channel before the attempt ends in FAILED (reason `ICE_TIMEOUT`),
   * also how long ICE may stay `disconnected` before an open channel is reported lost, ms. Must be below
   * `connectTimeoutMs`.
   * @default 80 % of `connectTimeoutMs` (8000)
   */
  iceTimeoutMs?: number;
  /**
   * Largest message `send` accepts, in bytes; at most 262 139. With `relay: 'fallback'` it must also fit into one
   * message of the signaling hub.
   * @default 65536 (64 KiB, safe across browsers), or what the signaling hub can relay when smaller
   */
  maxPayloadSize?: number;
  /**
   * Buffered bytes toward a peer above which `bufferedAmount` callers should pause.
   * @default 1048576 (1 MiB); with `relay: 'fallback'`, twice `lowWaterMark` when that is more
   */
  highWaterMark?: number;
  /**
   * Buffered bytes at or below which `drain` fires after the high-water mark was passed. Must be below
   * `highWaterMark`; with `relay: 'fallback'` at least the signaling hub's `highWaterMark` (the relayed bytes wait
   * in the signaling endpoint, whose `drain` tells when they left).
   * @default 262144 (256 KiB), or a quarter of `highWaterMark` when smaller; with `relay: 'fallback'` raised to
   * the signaling hub's `highWaterMark`
   */
  lowWaterMark?: number;
  /**
   * `'never'`: a connection is direct or it fails or is lost.
   * `'fallback'`: when no data channel can be made, or one breaks, messages travel over the signaling
   * connection until a new data channel is up (retried every `directRetryMs`). ReliableRtcHub uses it.
   * @default 'never' ('fallback' with `forceRelay`)
   */
  relay?: RelayMode;
  /**
   * With `relay: 'fallback'`, how long to wait before trying a direct connection again, ms.
   * @default 5000
   */
  directRetryMs?: number;
  /**
   * Every connection of this hub runs over the relay (the signaling connection): no data channel is attempted, and
   * a peer's offer is refused, so the peer relays too and never retries. For tests of the relay path and for users
   * behind networks that break WebRTC. Implies `relay: 'fallback'` (`relay: 'never'` with it throws); peers must use
   * `relay: 'fallback'` too (with or without `forceRelay`). Not `iceTransportPolicy: 'relay'`, which means TURN.
   * @default false
   */
  forceRelay?: boolean;
  /**
   * The WebRTC implementation.
   * @default the browser's globals, or `@roamhq/wrtc` in Node (loaded on demand)
   */
  wrtc?: WebRtcImplementation;
}

/** Options after defaults were applied and checked. */
export interface ResolvedRtcHubOptions {
  iceServers: RTCIceServer[];
  iceTransportPolicy: RTCIceTransportPolicy;
  channelConfig: RTCDataChannelInit;
  connectTimeoutMs: number;
  iceTimeoutMs: number;
  maxPayloadSize: number;
  highWaterMark: number;
  lowWaterMark: number;
  relay: RelayMode;
  directRetryMs: number;
  forceRelay: boolean;
  wrtc?: WebRtcImplementation;
  /** The signaling hub's highWaterMark: a relayed frame that leaves its buffer past it owes the `drain` that resumes the relay. */
  signalingHighWaterMark: number;
  /** The signaling hub's maxPayloadSize: the largest relayed frame. */
  signalingMaxPayloadSize: number;
}

export const DEFAULT_MAX_PAYLOAD_SIZE = 64 * 1024;
const DEFAULT_HIGH_WATER_MARK = 1024 * 1024;
const DEFAULT_LOW_WATER_MARK = 256 * 1024;
/** Chrome's SCTP max-message-size is 256 KiB; one record and its header must fit into one data channel message. */
export const MAX_FRAME_SIZE = 256 * 1024;

const MAX_PAYLOAD = MAX_FRAME_SIZE - RECORD_OVERHEAD;

const SCHEMA = optionsSchema(
  'RtcHub',
  {
    iceServers: option.custom<RTCIceServer[]>({ expected: 'an array of RTCIceServer', check: Array.isArray }),
    iceTransportPolicy: option.enum(['all', 'relay'], { default: 'all' }),
    ordered: option.boolean({ default: true }),
    maxRetransmits: option.integer({ min: 0 }),
    maxPacketLifeTime: option.number({ above: 0 }),
    connectTimeoutMs: option.number({ above: 0, default: DEFAULT_CONNECT_TIMEOUT_MS }),
    iceTimeoutMs: option.number({ above: 0 }),
    // Its default and a second bound come from the signaling hub: see resolveOptions.
    maxPayloadSize: option.number({
      above: 0,
      max: MAX_PAYLOAD,
      expected: `a number of bytes > 0 and at most ${MAX_PAYLOAD} (one data channel message; wrap the hub in a MarshallerHub for larger messages)`,
    }),
    // Their defaults depend on the signaling hub: see waterMarks.
    highWaterMark: option.number({ above: 0 }),
    lowWaterMark: option.number({ above: 0 }),
    // Its default depends on forceRelay: see resolveOptions.
    relay: option.enum(['never', 'fallback']),
    directRetryMs: option.number({ above: 0, default: 5000 }),
    forceRelay: option.boolean({ default: false }),
    wrtc: option.object<WebRtcImplementation>({
      expected: 'an object with RTCPeerConnection, RTCSessionDescription and RTCIceCandidate',
      check: (wrtc) => typeof wrtc.RTCPeerConnection === 'function',
    }),
  },
  {
    derive: ({ ordered, maxRetransmits, maxPacketLifeTime, iceServers = [], ...o }) => {
      const channelConfig: RTCDataChannelInit = { ordered };
      if (maxRetransmits !== undefined) channelConfig.maxRetransmits = maxRetransmits;
      if (maxPacketLifeTime !== undefined) channelConfig.maxPacketLifeTime = maxPacketLifeTime;
      return {
        ...o,
        iceServers,
        channelConfig,
        iceTimeoutMs: o.iceTimeoutMs ?? Math.floor(o.connectTimeoutMs * 0.8),
      };
    },
    check: (o) => {
      if (o.channelConfig.maxRetransmits !== undefined && o.channelConfig.maxPacketLifeTime !== undefined) {
        return 'maxRetransmits and maxPacketLifeTime exclude each other; set one of them.';
      }
      if (o.forceRelay && o.relay === 'never') {
        return "forceRelay: true carries every message over the relay, which relay: 'never' forbids; use relay: 'fallback' or leave relay out.";
      }
      if (o.iceTimeoutMs >= o.connectTimeoutMs) {
        return `iceTimeoutMs (${o.iceTimeoutMs}) must be below connectTimeoutMs (${o.connectTimeoutMs}) so ICE failures end in FAILED, not TIMEOUT.`;
      }
      return undefined;
    },
  },
);

/** What of the signaling hub bounds RtcHub's options when messages may be relayed over it. */
export interface SignalingLimits {
  maxPayloadSize: number;
  highWaterMark: number;
  lowWaterMark: number;
}

/** Applies defaults and rejects invalid options and combinations with INVALID_ARGUMENT. */
export function resolveOptions(options: RtcHubOptions, signaling: SignalingLimits): ResolvedRtcHubOptions {
  const { highWaterMark, lowWaterMark, relay: given, ...checked } = SCHEMA.resolve(options);
  const relay: RelayMode = given ?? (checked.forceRelay ? 'fallback' : 'never');
  const resolved = { ...checked, relay };
  const relayLimit = resolved.relay === 'fallback' ? signaling.maxPayloadSize - RECORD_OVERHEAD : Infinity;
  const maxPayloadSize = resolved.maxPayloadSize ?? Math.min(DEFAULT_MAX_PAYLOAD_SIZE, relayLimit);
  if (maxPayloadSize > relayLimit) {
    throw SCHEMA.invalid(`maxPayloadSize (${maxPayloadSize}) exceeds what the signaling hub can relay (${relayLimit}); lower it or use relay: 'never'.`);
  }
  const marks = waterMarks({ highWaterMark, lowWaterMark }, resolved.relay, signaling);
  return { ...resolved, ...marks, maxPayloadSize, signalingHighWaterMark: signaling.highWaterMark, signalingMaxPayloadSize: signaling.maxPayloadSize };
}

/**
 * The drain marks. Relayed bytes wait in the signaling endpoint, which tells when they left only by the `drain` it
 * owes once past its own highWaterMark; so with relay 'fallback' lowWaterMark is at least that mark (as for a
 * decorator: waterMarksOver). Then a relayed buffer that never passed the signaling hub's high mark is at or below
 * this hub's low mark, and one that did drains to at or below it, with no polling.
 */
function waterMarks(given: { highWaterMark?: number; lowWaterMark?: number }, relay: RelayMode, signaling: SignalingLimits): { highWaterMark: number; lowWaterMark: number } {
  const high = given.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
  const defaults = { highWaterMark: DEFAULT_HIGH_WATER_MARK, lowWaterMark: Math.min(DEFAULT_LOW_WATER_MARK, high / 4) };
  if (relay === 'fallback') {
    const floor = Number.isFinite(signaling.highWaterMark) ? signaling.highWaterMark : 0;
    const fix = "raise it, lower the signaling hub's marks, or use relay: 'never'";
    if (given.lowWaterMark !== undefined && given.lowWaterMark < floor) {
      throw SCHEMA.invalid(`with relay: 'fallback', lowWaterMark (${given.lowWaterMark}) must be at least the signaling hub's highWaterMark (${floor}), whose drain tells when relayed messages left; ${fix}.`);
    }
    if (given.lowWaterMark === undefined && given.highWaterMark !== undefined && given.highWaterMark <= floor) {
      throw SCHEMA.invalid(`with relay: 'fallback', highWaterMark (${given.highWaterMark}) must be above the signaling hub's highWaterMark (${floor}), the least lowWaterMark can be; ${fix}.`);
    }
    return waterMarksOver('RtcHub', signaling, given, defaults);
  }
  const lowWaterMark = given.lowWaterMark ?? defaults.lowWaterMark;
  if (lowWaterMark >= high) throw SCHEMA.invalid(`lowWaterMark (${lowWaterMark}) must be below highWaterMark (${high}).`);
  return { highWaterMark: high, lowWaterMark };
}
