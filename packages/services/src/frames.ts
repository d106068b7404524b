import { VnfError, isBinary } from '@vnf/core';

/*
 * The frames PeerServices exchange on their sub-protocol. A call's id is the caller's: unique among the calls it has
 * in flight, so a provider keys what it runs by (caller eva, id). Sent as objects where the stack carries JSON values
 * (a MarshallerHub beneath: params may hold binary), else as JSON text.
 */
export type Frame =
  | { t: 'call'; id: number; service: string; params: unknown }
  | { t: 'progress'; id: number; value: unknown }
  | { t: 'result'; id: number; value: unknown }
  /** `gone`: the provider stopped the service mid-call (not the handler's own error): the call may go elsewhere. */
  | { t: 'error'; id: number; code: string; message: string; gone?: true }
  | { t: 'cancel'; id: number };

/** Longest service name, in characters. */
export const MAX_SERVICE_NAME_LENGTH = 256;

/** Reads a frame a peer sent; null when it is not one (the caller reports it). */
export function decodeFrame(message: unknown): Frame | null {
  let value = message;
  if (typeof message === 'string') {
    try {
      value = JSON.parse(message) as unknown;
    } catch {
      return null;
    }
  }
  if (typeof value !== 'object' || value === null) return null;
  const f = value as Record<string, unknown>;
  if (typeof f.id !== 'number' || !Number.isSafeInteger(f.id) || f.id < 0) return null;
  // The frame read is returned as it is where only fields just checked are read from it (nothing else is kept):
  // one object fewer a call.
  switch (f.t) {
    case 'call':
      if (typeof f.service !== 'string' || f.service.length === 0 || f.service.length > MAX_SERVICE_NAME_LENGTH) return null;
      return f as Frame;
    case 'progress':
    case 'result':
      return f as Frame;
    case 'error':
      if (typeof f.code !== 'string' || typeof f.message !== 'string') return null;
      return f.gone === true ? { t: 'error', id: f.id, code: f.code, message: f.message, gone: true } : { t: 'error', id: f.id, code: f.code, message: f.message };
    case 'cancel':
      return { t: 'cancel', id: f.id };
    default:
      return null;
  }
}

/**
 * Sends frames on one channel: as objects while the stack takes them, as JSON text from the first time it refuses one
 * (INVALID_PAYLOAD from a wire hub beneath MultiplexHub).
 */
export class FrameSender {
  private asText = false;

  constructor(private readonly send: (targetEva: string, message: unknown) => void) {}

  /** Throws what the channel throws (NOT_CONNECTED, TOO_LARGE, BUFFER_FULL), or INVALID_PAYLOAD when the frame cannot be carried at all. */
  frame(targetEva: string, frame: Frame): void {
    if (!this.asText) {
      try {
        this.send(targetEva, frame);
        return;
      } catch (err) {
        if (!VnfError.is(err, 'INVALID_PAYLOAD')) throw err;
        this.asText = true;
      }
    }
    this.send(targetEva, toText(frame));
  }
}

/** True when JSON.stringify carries `value` unchanged (no binary, functions, symbols or bigints): its fast path. */
function plainJson(value: unknown, depth = 0): boolean {
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
    case 'undefined':
      return true;
    case 'object': {
      if (value === null) return true;
      if (depth > 100 || isBinary(value)) return false;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) if (!plainJson(value[i], depth + 1)) return false;
        return true;
      }
      const o = value as Record<string, unknown>;
      for (const k in o) if (!plainJson(o[k], depth + 1)) return false;
      return true;
    }
    default:
      return false;
  }
}

function toText(frame: Frame): string {
  if (plainJson(frame)) return JSON.stringify(frame);
  // JSON.stringify would turn binary into an object of indices and drop functions: refuse what it would change.
  return JSON.stringify(frame, (_key, value: unknown) => {
    if (isBinary(value) || typeof value === 'function' || typeof value === 'symbol' || typeof value === 'bigint') {
      throw new VnfError(
        'INVALID_PAYLOAD',
        'Over this stack a service call carries plain JSON only: put a MarshallerHub beneath the MultiplexHub for binary params and results.',
      );
    }
    return value;
  });
}
