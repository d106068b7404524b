import { DEFAULT_CONNECT_TIMEOUT_MS, VnfError } from '@vnf/core';
import { RECORD_OVERHEAD } from './frameCodec';
import type { WebRtcImplementation } from './webRtcImplementation';

/** When messages may travel over the signaling hub instead of a WebRTC data channel. */
export type RelayMode = 'never' | 'fallback';

/** Options of RtcHub. Every option is optional; the defaults are documented on each field. */
export interface RtcHubOptions {
  /** ICE servers (STUN/TURN) given to every RTCPeerConnection. Default `[]`: host candidates only (same machine or LAN). */
  iceServers?: RTCIceServer[];
  /** `'all'` (default) or `'relay'` (only TURN candidates; needs a TURN server in `iceServers`). */
  iceTransportPolicy?: RTCIceTransportPolicy;
  /** Data channel delivery order. Default `true`. */
  ordered?: boolean;
  /** Data channel retransmissions for unreliable delivery; mutually exclusive with `maxPacketLifeTime`. Default unset: reliable. */
  maxRetransmits?: number;
  /** Data channel lifetime of a message in ms for unreliable delivery. Default unset: reliable. */
  maxPacketLifeTime?: number;
  /** How long `openConnection` waits before it ends in TIMEOUT. Default 10 000 ms. */
  connectTimeoutMs?: number;
  /**
   * How long ICE may take to connect a data channel before the attempt ends in FAILED (reason `ICE_TIMEOUT`),
   * also how long ICE may stay `disconnected` before an open channel is reported lost.
   * Default: 80 % of `connectTimeoutMs` (8 000 ms). Must be below `connectTimeoutMs`.
   */
  iceTimeoutMs?: number;
  /** Largest message `send` accepts, in bytes. Default 65 536 (64 KiB, safe across browsers); at most 262 139. */
  maxPayloadSize?: number;
  /** Buffered bytes toward a peer above which `bufferedAmount` callers should pause. Default 1 MiB. */
  highWaterMark?: number;
  /** Buffered bytes below which `drain` fires after the high-water mark was passed. Default 256 KiB. */
  lowWaterMark?: number;
  /**
   * `'never'` (default): a connection is direct or it fails or is lost.
   * `'fallback'`: when no data channel can be made, or one breaks, messages travel over the signaling
   * connection until a new data channel is up (retried every `directRetryMs`). ReliableRtcHub uses it.
   */
  relay?: RelayMode;
  /** With `relay: 'fallback'`, how long to wait before trying a direct connection again. Default 5 000 ms. */
  directRetryMs?: number;
  /** The WebRTC implementation. Default: the browser's globals, or `@roamhq/wrtc` in Node (loaded on demand). */
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
  wrtc?: WebRtcImplementation;
}

export const DEFAULT_MAX_PAYLOAD_SIZE = 64 * 1024;
/** Chrome's SCTP max-message-size is 256 KiB; one record and its header must fit into one data channel message. */
export const MAX_FRAME_SIZE = 256 * 1024;

function invalid(message: string): VnfError {
  return new VnfError('INVALID_ARGUMENT', message);
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw invalid(`RtcHub option ${name} must be a positive finite number; got ${String(value)}.`);
  }
  return value;
}

/**
 * Applies defaults and rejects invalid options and combinations with INVALID_ARGUMENT.
 * `signalingMaxPayload` bounds the payload when messages may be relayed over the signaling hub.
 */
export function resolveOptions(options: RtcHubOptions, signalingMaxPayload: number): ResolvedRtcHubOptions {
  if (options === null || typeof options !== 'object') throw invalid('RtcHub options must be an object when given.');
  const relay = options.relay ?? 'never';
  if (relay !== 'never' && relay !== 'fallback') throw invalid(`RtcHub option relay must be 'never' or 'fallback'; got ${String(relay)}.`);
  const iceServers = options.iceServers ?? [];
  if (!Array.isArray(iceServers)) throw invalid('RtcHub option iceServers must be an array of RTCIceServer.');
  const iceTransportPolicy = options.iceTransportPolicy ?? 'all';
  if (iceTransportPolicy !== 'all' && iceTransportPolicy !== 'relay') {
    throw invalid(`RtcHub option iceTransportPolicy must be 'all' or 'relay'; got ${String(iceTransportPolicy)}.`);
  }
  const connectTimeoutMs = positive('connectTimeoutMs', options.connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS);
  const iceTimeoutMs = positive('iceTimeoutMs', options.iceTimeoutMs, Math.floor(connectTimeoutMs * 0.8));
  if (iceTimeoutMs >= connectTimeoutMs) {
    throw invalid(`RtcHub option iceTimeoutMs (${iceTimeoutMs}) must be below connectTimeoutMs (${connectTimeoutMs}) so ICE failures end in FAILED, not TIMEOUT.`);
  }
  const relayLimit = relay === 'fallback' ? signalingMaxPayload - RECORD_OVERHEAD : Infinity;
  const maxPayloadSize = positive('maxPayloadSize', options.maxPayloadSize, Math.min(DEFAULT_MAX_PAYLOAD_SIZE, relayLimit));
  if (maxPayloadSize > MAX_FRAME_SIZE - RECORD_OVERHEAD) {
    throw invalid(`RtcHub option maxPayloadSize may be at most ${MAX_FRAME_SIZE - RECORD_OVERHEAD} bytes (one data channel message); wrap the hub in a MarshallerHub for larger messages.`);
  }
  if (maxPayloadSize > relayLimit) {
    throw invalid(`RtcHub option maxPayloadSize (${maxPayloadSize}) exceeds what the signaling hub can relay (${relayLimit}); lower it or use relay: 'never'.`);
  }
  const highWaterMark = positive('highWaterMark', options.highWaterMark, 1024 * 1024);
  const lowWaterMark = positive('lowWaterMark', options.lowWaterMark, Math.min(256 * 1024, highWaterMark / 4));
  if (lowWaterMark >= highWaterMark) throw invalid(`RtcHub option lowWaterMark (${lowWaterMark}) must be below highWaterMark (${highWaterMark}).`);
  const channelConfig: RTCDataChannelInit = { ordered: options.ordered ?? true };
  if (options.ordered !== undefined && typeof options.ordered !== 'boolean') throw invalid('RtcHub option ordered must be a boolean.');
  if (options.maxRetransmits !== undefined && options.maxPacketLifeTime !== undefined) {
    throw invalid('RtcHub options maxRetransmits and maxPacketLifeTime exclude each other; set one of them.');
  }
  if (options.maxRetransmits !== undefined) {
    if (!Number.isInteger(options.maxRetransmits) || options.maxRetransmits < 0) throw invalid('RtcHub option maxRetransmits must be an integer ≥ 0.');
    channelConfig.maxRetransmits = options.maxRetransmits;
  }
  if (options.maxPacketLifeTime !== undefined) {
    channelConfig.maxPacketLifeTime = positive('maxPacketLifeTime', options.maxPacketLifeTime, 0);
  }
  const directRetryMs = positive('directRetryMs', options.directRetryMs, 5000);
  const wrtc = options.wrtc;
  if (wrtc !== undefined && (typeof wrtc !== 'object' || wrtc === null || typeof wrtc.RTCPeerConnection !== 'function')) {
    throw invalid('RtcHub option wrtc must be an object with RTCPeerConnection, RTCSessionDescription and RTCIceCandidate.');
  }
  return {
    iceServers,
    iceTransportPolicy,
    channelConfig,
    connectTimeoutMs,
    iceTimeoutMs,
    maxPayloadSize,
    highWaterMark,
    lowWaterMark,
    relay,
    directRetryMs,
    wrtc,
  };
}
