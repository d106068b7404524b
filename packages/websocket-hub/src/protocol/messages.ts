import { MAX_EVA_LENGTH, VnfError } from '@vnf/core';

/** Who a socket speaks for: an endpoint (routable eva) or an RPC channel (registry owner only). */
export type Role = 'endpoint' | 'rpc';

/** Control messages a client sends (JSON). */
export type ClientMessage =
  | { t: 'hello'; v: number; role: Role; eva: string; session?: string; auth?: string }
  | { t: 'open'; to: string }
  | { t: 'close'; to: string }
  | { t: 'call'; id: number; method: string; params?: unknown }
  | { t: 'ping' };

/** Control messages the broker sends (JSON). */
export type BrokerMessage =
  | { t: 'welcome'; session: string; maxFrame: number }
  | { t: 'pong' }
  | { t: 'opened'; to: string }
  | { t: 'refused'; to: string; code: string; message: string }
  | { t: 'accept'; from: string }
  | { t: 'lost'; from: string }
  | { t: 'result'; id: number; result: unknown }
  | { t: 'failure'; id: number; code: string; message: string }
  | { t: 'notify'; method: string; params: unknown }
  | { t: 'error'; code: string; message: string };

/** Longest session token or auth token accepted in a hello, in characters. */
export const MAX_TOKEN_LENGTH = 4096;
/** Longest RPC method name, in characters. */
export const MAX_METHOD_LENGTH = 256;

/** Parses and checks one client control message. Throws VnfError PROTOCOL saying what is wrong. */
export function parseClientMessage(text: string): ClientMessage {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw protocol('a control message is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw protocol('a control message must be a JSON object');
  const m = value as Record<string, unknown>;
  switch (m.t) {
    case 'hello':
      if (typeof m.v !== 'number') throw protocol('hello.v (the protocol version) must be a number');
      if (m.role !== 'endpoint' && m.role !== 'rpc') throw protocol('hello.role must be "endpoint" or "rpc"');
      evaField(m, 'eva');
      optionalToken(m, 'session');
      optionalToken(m, 'auth');
      return m as ClientMessage;
    case 'open':
    case 'close':
      evaField(m, 'to');
      return m as ClientMessage;
    case 'call':
      if (!Number.isSafeInteger(m.id)) throw protocol('call.id must be an integer');
      if (typeof m.method !== 'string' || m.method.length === 0 || m.method.length > MAX_METHOD_LENGTH) {
        throw protocol(`call.method must be a non-empty string of at most ${MAX_METHOD_LENGTH} characters`);
      }
      return m as ClientMessage;
    case 'ping':
      return m as ClientMessage;
    default:
      throw protocol(`unknown control message type ${JSON.stringify(m.t)?.slice(0, 64) ?? typeof m.t}`);
  }
}

/** Parses a broker control message. Only the type is checked: the broker is trusted, its fields are read defensively. */
export function parseBrokerMessage(text: string): BrokerMessage {
  const value: unknown = JSON.parse(text);
  if (typeof value !== 'object' || value === null || typeof (value as { t?: unknown }).t !== 'string') {
    throw protocol('the broker sent a control message without a type');
  }
  return value as BrokerMessage;
}

function evaField(m: Record<string, unknown>, field: string): void {
  const v = m[field];
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_EVA_LENGTH) {
    throw protocol(`${String(m.t)}.${field} must be an eva: a non-empty string of at most ${MAX_EVA_LENGTH} characters`);
  }
}

function optionalToken(m: Record<string, unknown>, field: string): void {
  const v = m[field];
  if (v !== undefined && (typeof v !== 'string' || v.length > MAX_TOKEN_LENGTH)) {
    throw protocol(`hello.${field} must be a string of at most ${MAX_TOKEN_LENGTH} characters when given`);
  }
}

function protocol(what: string): VnfError {
  return new VnfError('PROTOCOL', `Bad control message: ${what}. See docs/protocol.md.`);
}
