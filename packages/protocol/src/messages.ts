import { VnfError, validateEva } from '@vnf/core';
import { MAX_GROUP_ID_LENGTH } from './constants';

/** Who a socket speaks for: an endpoint (routable eva) or an RPC channel (registry owner only). */
export type Role = 'endpoint' | 'rpc';

/** Control messages a client sends (JSON). */
export type ClientMessage =
  | { t: 'hello'; v: number; role: Role; eva: string; session?: string; auth?: string }
  | { t: 'open'; to: string }
  | { t: 'close'; to: string }
  | { t: 'call'; id: number; method: string; params?: unknown }
  | { t: 'ping' }
  /** Defines (or redefines) the sender's group `id`: GROUP_TEXT/GROUP_BINARY records naming it reach each of `targets`. */
  | { t: 'group'; id: string; targets: string[] }
  | { t: 'ungroup'; id: string };

/**
 * Budgets the broker holds this socket to, announced in its welcome so the client can stay within them. Each is
 * optional: absent means unlimited (and brokers predating them send none).
 */
export interface WelcomeLimits {
  /** Most RPC calls the socket may have unanswered; the broker refuses one more with RATE_LIMITED. */
  callsInFlight?: number;
  /** Most control messages (hello, open, close, call, ping) the socket may send per second. */
  controlPerSecond?: number;
}

/** A broker's offer of groups (server-side fan-out), announced in its welcome; brokers predating groups send none. */
export interface WelcomeGroups {
  /** Most groups the socket may hold at once. */
  max: number;
  /** Most targets one group may list. */
  maxTargets: number;
}

/** Control messages the broker sends (JSON). */
export type BrokerMessage =
  | { t: 'welcome'; session: string; maxFrame: number; limits?: WelcomeLimits; groups?: WelcomeGroups }
  | { t: 'pong' }
  | { t: 'opened'; to: string }
  | { t: 'refused'; to: string; code: string; message: string }
  | { t: 'accept'; from: string }
  | { t: 'lost'; from: string }
  | { t: 'result'; id: number; result: unknown }
  | { t: 'failure'; id: number; code: string; message: string }
  | { t: 'notify'; method: string; params: unknown }
  /** `group`: the group id a refused group message or record named (the client forgets that group). */
  | { t: 'error'; code: string; message: string; group?: string };

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
    case 'group':
      groupId(m);
      if (!Array.isArray(m.targets)) throw protocol('group.targets must be an array of evas');
      for (let i = 0; i < m.targets.length; i++) {
        try {
          validateEva(m.targets[i], `group.targets[${i}]`);
        } catch (err) {
          throw protocol((err as VnfError).message.replace(/\.$/, ''));
        }
      }
      return m as ClientMessage;
    case 'ungroup':
      groupId(m);
      return m as ClientMessage;
    default:
      throw protocol(`unknown control message type ${JSON.stringify(m.t)?.slice(0, 64) ?? typeof m.t}`);
  }
}

/** The limits a welcome may announce, each a positive integer when present. */
const LIMIT_NAMES = ['callsInFlight', 'controlPerSecond'] as const;

/**
 * Parses a broker control message. The broker is trusted: only the type is checked and the fields are read
 * defensively, except a welcome's `limits`, which the client obeys and so must be what docs/protocol.md says.
 */
export function parseBrokerMessage(text: string): BrokerMessage {
  const value: unknown = JSON.parse(text);
  if (typeof value !== 'object' || value === null || typeof (value as { t?: unknown }).t !== 'string') {
    throw protocol('the broker sent a control message without a type');
  }
  const m = value as Record<string, unknown>;
  if (m.t === 'welcome' && m.limits !== undefined) m.limits = welcomeLimits(m.limits);
  if (m.t === 'welcome' && m.groups !== undefined) m.groups = welcomeGroups(m.groups);
  return value as BrokerMessage;
}

/** The known limits of a welcome; a limit this client does not know is left out (a later broker may add some). */
function welcomeLimits(v: unknown): WelcomeLimits {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw protocol('welcome.limits must be an object when given (leave it out for no limits)');
  }
  const limits: WelcomeLimits = {};
  for (const name of LIMIT_NAMES) {
    const limit = (v as Record<string, unknown>)[name];
    if (limit === undefined) continue;
    if (!Number.isSafeInteger(limit) || (limit as number) < 1) {
      throw protocol(`welcome.limits.${name} must be a positive integer when given (leave it out for no limit); got ${JSON.stringify(limit)}`);
    }
    limits[name] = limit as number;
  }
  return limits;
}

/** A welcome's `groups`: both fields positive integers, or the client would size its group cache on nonsense. */
function welcomeGroups(v: unknown): WelcomeGroups {
  const g = v as Record<string, unknown> | null;
  if (typeof g !== 'object' || g === null || Array.isArray(g)) throw protocol('welcome.groups must be an object when given (leave it out when the broker offers no groups)');
  for (const name of ['max', 'maxTargets'] as const) {
    if (!Number.isSafeInteger(g[name]) || (g[name] as number) < 1) {
      throw protocol(`welcome.groups.${name} must be a positive integer; got ${JSON.stringify(g[name])}`);
    }
  }
  return { max: g.max as number, maxTargets: g.maxTargets as number };
}

/** Printable ASCII: the id travels as JSON in `group` and as UTF-8 in a record's eva field, and both must be the same bytes. */
const GROUP_ID = new RegExp(`^[\\x21-\\x7e]{1,${MAX_GROUP_ID_LENGTH}}$`);

function groupId(m: Record<string, unknown>): void {
  if (typeof m.id !== 'string' || !GROUP_ID.test(m.id)) {
    throw protocol(`${String(m.t)}.id must be 1 to ${MAX_GROUP_ID_LENGTH} printable ASCII characters (no space)`);
  }
}

/** An eva field: what validateEva accepts, so a broker never registers or routes an eva UTF-8 would change. */
function evaField(m: Record<string, unknown>, field: string): void {
  try {
    validateEva(m[field], `${String(m.t)}.${field}`);
  } catch (err) {
    throw protocol((err as VnfError).message.replace(/\.$/, ''));
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
