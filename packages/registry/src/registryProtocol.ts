/**
 * The registry's RPC methods and the shapes of their params, results and notifications: one module
 * used by RegistryService (server side) and WebSocketRegistryClient, documented in this package's README.
 * Everything here is plain JSON. Params are checked strictly (they come from the network); results
 * and notifications are checked by the client so a confused server cannot crash it.
 */
import { Global, VnfError, type RegistryChange, type RegistryCondition, type RegistryEntry, type RegistryWill, type RegistryWriteResult, type Status } from '@vnf/core';

export const RegistryMethod = {
  /** `{ collection, name, value }` → `{ status: 'OK' | 'ALREADY_EXISTS' }` */
  CREATE: 'registry.create',
  /** `{ collection, name }` → `{ entry }` */
  GET: 'registry.get',
  /** `{ collection, name, value }` → `{ status: 'OK' }` */
  UPDATE: 'registry.update',
  /** `{ collection, name }` → `{ status: 'OK' }` */
  DELETE: 'registry.delete',
  /**
   * `{ collection }` → `{ entries }`, ordered by name, refused TOO_LARGE when the whole list does not fit in one
   * reply; `{ collection, after: null | name }` → one page `{ entries, next? }` (pass `next` as `after` for the next).
   */
  LIST: 'registry.list',
  /**
   * `{ collection, watchId, snapshot?, filter?, from? }` → `{ status: 'OK', revision }`; with `snapshot` (or `from`
   * past the log's history) `registry.snapshot` notifications come first, then changes as `registry.change`
   * notifications carrying their `revision`. `revision` in the reply is the one the watch starts after.
   */
  WATCH: 'registry.watch',
  /** `{ watchId }` → `{ status: 'OK' }` (also for a watch that no longer exists) */
  UNWATCH: 'registry.unwatch',
  /**
   * `{ collection, name, value, when?, wait?, waitId?, timeoutMs?, will?, retain? }` → `{ status: 'OK' | 'CONFLICT',
   * version, revision }`, or `{ status: 'WAITING' }` when `wait` queued it: its outcome then comes as a
   * `registry.waited` notification with the same `waitId`.
   */
  WRITE: 'registry.write',
  /** `{ collection, name, when?, wait?, waitId?, timeoutMs? }` → as WRITE. */
  REMOVE: 'registry.remove',
  /** `{ waitId }` → `{ cancelled: true }` (the wait ended, nothing written) or `{ cancelled: false }` (its outcome was already sent). */
  CANCEL: 'registry.cancel',
  /** `{}` → `{ status: 'OK' }`: the wills of the caller's entries are applied now (RegistryClient.close({ applyWills: true })). */
  APPLY_WILLS: 'registry.applyWills',
} as const;
export type RegistryMethod = (typeof RegistryMethod)[keyof typeof RegistryMethod];

/** Notification pushed to a session for each change a watch of it sees: `{ watchId, type, entry }`. */
export const REGISTRY_CHANGE_NOTIFICATION = 'registry.change';

/**
 * Notification pushed once to a socket whose change notifications were dropped because it lagged (it could not
 * take them as fast as they came): `{}`. Every watch of that socket may have missed changes; list again.
 */
export const REGISTRY_RESYNC_NOTIFICATION = 'registry.resync';

/** A page of a watch's snapshot: `{ watchId, entries, revision, resync, more }`; `more` until its last page. */
export const REGISTRY_SNAPSHOT_NOTIFICATION = 'registry.snapshot';

/** The outcome of a write that waited: `{ waitId, result }` or `{ waitId, error: { code, message } }`. */
export const REGISTRY_WAITED_NOTIFICATION = 'registry.waited';

/** Longest watch id or wait id, in characters: the client picks ids, the server keeps them. */
export const MAX_WATCH_ID_LENGTH = 64;

export interface KeyParams {
  collection: string;
  name: string;
}
export interface ValueParams extends KeyParams {
  value: unknown;
}
export interface ListParams {
  collection: string;
  /** Present: one page is asked for, after this name (null: the first page). */
  after?: string | null;
}
export interface WatchParams {
  collection: string;
  watchId: string;
  snapshot?: boolean;
  filter?: Record<string, unknown>;
  from?: number;
}
export interface WriteParams extends ValueParams {
  when?: RegistryCondition;
  wait?: boolean;
  waitId?: string;
  timeoutMs?: number;
  will?: RegistryWill;
  retain?: boolean;
}
export interface RemoveParams extends KeyParams {
  when?: RegistryCondition;
  wait?: boolean;
  waitId?: string;
  timeoutMs?: number;
}
export interface CancelParams {
  waitId: string;
}
export interface WatchResult extends StatusResult {
  /** The store revision the watch starts after (brokers before 0.2 send none). */
  revision?: number;
}
export type WriteReply = RegistryWriteResult | { status: 'WAITING' };
export interface SnapshotNotification {
  watchId: string;
  entries: RegistryEntry[];
  revision: number;
  resync: boolean;
  more: boolean;
}
export type WaitedNotification = { waitId: string; result: RegistryWriteResult } | { waitId: string; error: { code: string; message: string } };
export interface UnwatchParams {
  watchId: string;
}
export interface StatusResult {
  status: Status;
}
export interface GetResult {
  entry: RegistryEntry;
}
export interface ListResult {
  entries: RegistryEntry[];
  /** In a page: the `after` of the next page; absent on the last one. */
  next?: string;
}
export interface ChangeNotification extends RegistryChange {
  watchId: string;
}

const METHODS: ReadonlySet<string> = new Set(Object.values(RegistryMethod));

export function isRegistryMethod(method: unknown): method is RegistryMethod {
  return typeof method === 'string' && METHODS.has(method);
}

// ---- params (server side) ----------------------------------------------------------------------

export function parseKeyParams(method: string, params: unknown): KeyParams {
  const p = readObject(method, params, ['collection', 'name']);
  return { collection: readString(method, p, 'collection'), name: readString(method, p, 'name') };
}

export function parseValueParams(method: string, params: unknown): ValueParams {
  const p = readObject(method, params, ['collection', 'name', 'value']);
  return { collection: readString(method, p, 'collection'), name: readString(method, p, 'name'), value: p.value };
}

export function parseListParams(method: string, params: unknown): ListParams {
  const p = readObject(method, params, ['collection'], ['after']);
  const collection = readString(method, p, 'collection');
  if (!('after' in p)) return { collection };
  if (p.after !== null && typeof p.after !== 'string') {
    throw new VnfError('INVALID_ARGUMENT', `${method}: param "after" must be null (first page) or the name a page ended with.`);
  }
  return { collection, after: p.after };
}

export function parseWatchParams(method: string, params: unknown): WatchParams {
  const p = readObject(method, params, ['collection', 'watchId'], ['snapshot', 'filter', 'from']);
  const result: WatchParams = { collection: readString(method, p, 'collection'), watchId: readWatchId(method, p) };
  // Shapes are checked by the store (RegistryRules), which reads options from any caller.
  if (p.snapshot !== undefined) result.snapshot = p.snapshot as boolean;
  if (p.filter !== undefined) result.filter = p.filter as Record<string, unknown>;
  if (p.from !== undefined) result.from = p.from as number;
  return result;
}

export function parseWriteParams(method: string, params: unknown): WriteParams {
  const p = readObject(method, params, ['collection', 'name', 'value'], ['when', 'wait', 'waitId', 'timeoutMs', 'will', 'retain']);
  return { ...readWaiting(method, p), collection: readString(method, p, 'collection'), name: readString(method, p, 'name'), value: p.value, ...pick(p, ['will', 'retain']) };
}

export function parseRemoveParams(method: string, params: unknown): RemoveParams {
  const p = readObject(method, params, ['collection', 'name'], ['when', 'wait', 'waitId', 'timeoutMs']);
  return { ...readWaiting(method, p), collection: readString(method, p, 'collection'), name: readString(method, p, 'name') };
}

export function parseCancelParams(method: string, params: unknown): CancelParams {
  const p = readObject(method, params, ['waitId']);
  return { waitId: readId(method, p, 'waitId') };
}

/** `wait` needs the `waitId` its outcome will be sent with. */
function readWaiting(method: string, p: Record<string, unknown>): Pick<WriteParams, 'when' | 'wait' | 'waitId' | 'timeoutMs'> {
  const result = pick(p, ['when', 'wait', 'timeoutMs']) as Pick<WriteParams, 'when' | 'wait' | 'timeoutMs'> & { waitId?: string };
  if (p.wait === true) result.waitId = readId(method, p, 'waitId');
  else if (p.waitId !== undefined) throw new VnfError('INVALID_ARGUMENT', `${method}: param "waitId" goes only with wait: true.`);
  return result;
}

function pick(p: Record<string, unknown>, fields: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of fields) if (p[field] !== undefined) out[field] = p[field];
  return out;
}

export function parseUnwatchParams(method: string, params: unknown): UnwatchParams {
  const p = readObject(method, params, ['watchId']);
  return { watchId: readWatchId(method, p) };
}

// ---- results and notifications (client side) ---------------------------------------------------

export function parseStatusResult(method: string, result: unknown): Status {
  const status = isObject(result) ? result.status : undefined;
  if (status !== Global.OK && status !== Global.ALREADY_EXISTS) throw badResult(method, 'a status of OK or ALREADY_EXISTS');
  return status;
}

export function parseGetResult(method: string, result: unknown): RegistryEntry {
  const entry = isObject(result) ? result.entry : undefined;
  if (!isEntry(entry)) throw badResult(method, 'an entry');
  return entry;
}

export function parseListResult(method: string, result: unknown): ListResult {
  const entries = isObject(result) ? result.entries : undefined;
  if (!Array.isArray(entries) || !entries.every(isEntry)) throw badResult(method, 'a list of entries');
  const next = (result as Record<string, unknown>).next;
  if (next !== undefined && typeof next !== 'string') throw badResult(method, 'a page whose next is a name');
  return next === undefined ? { entries } : { entries, next };
}

/** Reads a `registry.change` notification; null when it is malformed (the client logs and drops it). */
export function parseChangeNotification(params: unknown): ChangeNotification | null {
  if (!isObject(params) || typeof params.watchId !== 'string' || !isEntry(params.entry)) return null;
  const { type, revision } = params;
  if (type !== 'added' && type !== 'updated' && type !== 'removed') return null;
  const change: ChangeNotification = { watchId: params.watchId, type, entry: params.entry };
  if (typeof revision === 'number') change.revision = revision;
  return change;
}

export function parseSnapshotNotification(params: unknown): SnapshotNotification | null {
  if (!isObject(params) || typeof params.watchId !== 'string' || typeof params.revision !== 'number') return null;
  const { entries } = params;
  if (!Array.isArray(entries) || !entries.every(isEntry)) return null;
  return { watchId: params.watchId, entries, revision: params.revision, resync: params.resync === true, more: params.more === true };
}

export function parseWaitedNotification(params: unknown): WaitedNotification | null {
  if (!isObject(params) || typeof params.waitId !== 'string') return null;
  if (isObject(params.error) && typeof params.error.code === 'string' && typeof params.error.message === 'string') {
    return { waitId: params.waitId, error: { code: params.error.code, message: params.error.message } };
  }
  const result = isWriteResult(params.result);
  return result ? { waitId: params.waitId, result } : null;
}

export function parseWriteReply(method: string, result: unknown): WriteReply {
  if (isObject(result) && result.status === 'WAITING') return { status: 'WAITING' };
  const parsed = isWriteResult(result);
  if (!parsed) throw badResult(method, 'a status of OK or CONFLICT with version and revision');
  return parsed;
}

function isWriteResult(v: unknown): RegistryWriteResult | null {
  if (!isObject(v) || (v.status !== Global.OK && v.status !== Global.CONFLICT)) return null;
  const numberOrNull = (x: unknown): x is number | null => x === null || typeof x === 'number';
  if (!numberOrNull(v.version) || !numberOrNull(v.revision)) return null;
  return { status: v.status, version: v.version, revision: v.revision };
}

// ---- helpers ------------------------------------------------------------------------------------

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isEntry(v: unknown): v is RegistryEntry {
  return (
    isObject(v) &&
    typeof v.collection === 'string' &&
    typeof v.name === 'string' &&
    typeof v.owner === 'string' &&
    typeof v.version === 'number' &&
    'value' in v
  );
}

function readObject(method: string, params: unknown, required: string[], optional: string[] = []): Record<string, unknown> {
  const takes = [...required, ...optional.map((f) => `${f}?`)].join(', ');
  if (!isObject(params)) {
    throw new VnfError('INVALID_ARGUMENT', `${method} takes an object of params { ${takes} }; got ${describe(params)}.`);
  }
  for (const field of Object.keys(params)) {
    if (!required.includes(field) && !optional.includes(field)) {
      throw new VnfError('INVALID_ARGUMENT', `${method} does not take a param "${field}"; it takes { ${takes} }.`);
    }
  }
  for (const field of required) {
    if (!(field in params)) throw new VnfError('INVALID_ARGUMENT', `${method} needs the param "${field}".`);
  }
  return params;
}

function readString(method: string, params: Record<string, unknown>, field: string): string {
  const v = params[field];
  if (typeof v !== 'string') throw new VnfError('INVALID_ARGUMENT', `${method}: param "${field}" must be a string; got ${describe(v)}.`);
  return v;
}

function readWatchId(method: string, params: Record<string, unknown>): string {
  return readId(method, params, 'watchId');
}

function readId(method: string, params: Record<string, unknown>, field: string): string {
  if (!(field in params)) throw new VnfError('INVALID_ARGUMENT', `${method} needs the param "${field}".`);
  const id = readString(method, params, field);
  if (id.length === 0 || id.length > MAX_WATCH_ID_LENGTH) {
    throw new VnfError('INVALID_ARGUMENT', `${method}: param "${field}" must have 1 to ${MAX_WATCH_ID_LENGTH} characters.`);
  }
  return id;
}

function badResult(method: string, expected: string): VnfError {
  return new VnfError('PROTOCOL', `The broker answered ${method} without ${expected}. Check that the broker and client versions match.`);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  return Array.isArray(v) ? 'an array' : typeof v;
}
