import { VnfError } from '@vnf/core';

/*
 * Control frames RtcHub sends over the signaling connection: small strings, a version prefix and JSON.
 * Binary messages on the signaling connection are relayed data frames (see dataChannel in @vnf/protocol).
 */

const PREFIX = 'vnf-rtc/1 ';

/** The signal data simple-peer produces: an offer, an answer or an ICE candidate. */
export type SignalData = Record<string, unknown> & { type?: string };

export type ControlFrame =
  /** The non-initiating side asks the initiating side (the smaller eva) to start a data channel. */
  | { t: 'ring' }
  /** Offer, answer or ICE candidate for the data channel attempt `id`. */
  | { t: 'signal'; id: string; data: SignalData }
  /** The attempt `id` failed on the sender's side (no candidates, ICE failure). */
  | { t: 'fail'; id: string; reason: string }
  /** The sender closed the connection on purpose. */
  | { t: 'bye' }
  /**
   * (relay 'fallback') The sender carries messages over the signaling connection now. `forced`: it has forceRelay
   * and never makes or accepts a data channel, so the receiver stops trying one.
   */
  | { t: 'relay'; forced?: boolean }
  /** (relay 'fallback') The sender moved to data channel `id`; every message it relayed came before this frame. */
  | { t: 'direct'; id: string };

export function encodeControl(frame: ControlFrame): string {
  return PREFIX + JSON.stringify(frame);
}

/** Parses a control frame; throws PROTOCOL when the string is not one. */
export function decodeControl(text: string): ControlFrame {
  if (!text.startsWith(PREFIX)) throw protocol('it does not start with the RtcHub prefix');
  let frame: unknown;
  try {
    frame = JSON.parse(text.slice(PREFIX.length));
  } catch {
    throw protocol('it is not JSON');
  }
  if (!isControl(frame)) throw protocol('its fields are wrong');
  return frame;
}

function isControl(f: unknown): f is ControlFrame {
  if (typeof f !== 'object' || f === null) return false;
  const frame = f as Record<string, unknown>;
  switch (frame.t) {
    case 'ring':
    case 'bye':
      return true;
    case 'relay':
      return frame.forced === undefined || typeof frame.forced === 'boolean';
    case 'signal':
      return typeof frame.id === 'string' && typeof frame.data === 'object' && frame.data !== null;
    case 'fail':
      return typeof frame.id === 'string' && typeof frame.reason === 'string';
    case 'direct':
      return typeof frame.id === 'string';
    default:
      return false;
  }
}

/** A PROTOCOL error for a peer that broke the rules of RtcHub's signaling or channel handshake. */
export function protocolError(what: string): VnfError {
  return new VnfError('PROTOCOL', `RtcHub signaling: ${what}.`);
}

function protocol(why: string): VnfError {
  return new VnfError('PROTOCOL', `Ignored a signaling message that is not an RtcHub control frame: ${why}. Do not send on the signaling endpoints RtcHub uses.`);
}
