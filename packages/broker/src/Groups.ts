import { createLogger } from '@vnf/core';
import { RECORD_HEADER_BYTES, RecordKind, type WelcomeGroups } from '@vnf/protocol';
import type { ClientConnection } from './ClientConnection';
import type { ClusterLink } from './ClusterLink';
import type { ResolvedOptions } from './options';

const log = createLogger('broker');
// Module constants: read once per group record, they must not go through the re-export's getter.
const TEXT = RecordKind.TEXT;
const BINARY = RecordKind.BINARY;
const GROUP_TEXT = RecordKind.GROUP_TEXT;
const HEADER = RECORD_HEADER_BYTES;

/** What Groups needs of the broker: where the endpoints are, a way to answer, to queue a record and to count records. */
export interface GroupsHost {
  /** Registered endpoint sockets of this broker by eva. */
  readonly endpoints: ReadonlyMap<string, ClientConnection>;
  send(conn: ClientConnection, message: object): void;
  /** Queues a record toward `target` without holding anyone back (Relay.enqueue). */
  enqueue(target: ClientConnection, kind: RecordKind, from: Uint8Array, source: Uint8Array, start: number, end: number): void;
  /** Writes a group record once for all its targets; returns where it starts (Relay.writeShared). */
  writeShared(kind: RecordKind, from: Uint8Array, source: Uint8Array, start: number, end: number): number;
  /** Queues that record toward `target` without holding anyone back (Relay.enqueueShared). */
  enqueueShared(target: ClientConnection, start: number, end: number, payloadBytes: number): void;
  /** Counts `records` more of `conn`'s against its flood limit; false when that passed it (the socket is then closed). */
  withinRate(conn: ClientConnection, records: number): boolean;
}

/** What a welcome announces of `options`' groups; undefined when the broker offers none. */
export function groupOffer(options: Pick<ResolvedOptions, 'maxGroupsPerSocket' | 'maxGroupTargets'>): WelcomeGroups | undefined {
  return options.maxGroupsPerSocket > 0 ? { max: options.maxGroupsPerSocket, maxTargets: options.maxGroupTargets } : undefined;
}

/**
 * Server-side fan-out (docs/protocol.md, Groups): each endpoint socket names target lists (`group`, `ungroup`), then
 * sends one GROUP_TEXT/GROUP_BINARY record per message, and each target it has an open connection with gets an
 * ordinary TEXT/BINARY record stamped with the sender's eva, in the target's one outbound queue (so in order with
 * the sender's unicast records). Best effort per target: a target above half of relayHighWaterMark misses the record
 * (counted, logged) instead of holding the sender back, and is never closed for group traffic.
 */
export class Groups {
  private dropped = 0;
  /** Group deliveries handed to another broker (metrics; a field, bumped per delivery). */
  forwardedMessages = 0;

  constructor(
    private readonly options: Pick<ResolvedOptions, 'maxGroupsPerSocket' | 'maxGroupTargets' | 'relayHighWaterMark' | 'sendBufferLimit'>,
    private readonly cluster: ClusterLink,
    private readonly host: GroupsHost,
  ) {}

  /** Group records dropped for a target that lagged (above relayHighWaterMark), since the broker started. */
  get dropCount(): number {
    return this.dropped;
  }

  /** `{t:'group', id, targets}` from `conn`: defines or replaces its group `id`. */
  define(conn: ClientConnection, id: string, targets: readonly string[]): void {
    const { maxGroupsPerSocket, maxGroupTargets } = this.options;
    if (maxGroupsPerSocket === 0) {
      this.refuse(conn, 'PROTOCOL', 'This broker offers no groups (its welcome announced none); send one record per target.', id);
      return;
    }
    const groups = (conn.groups ??= new Map());
    if (targets.length > maxGroupTargets) {
      // The old definition goes too: records naming `id` must never reach a list its client no longer means.
      groups.delete(id);
      this.refuse(conn, 'TOO_LARGE', `Group "${id}" lists ${targets.length} targets, more than this broker's ${maxGroupTargets} (maxGroupTargets); split it into groups of at most ${maxGroupTargets}.`, id);
      return;
    }
    if (!groups.has(id) && groups.size >= maxGroupsPerSocket) {
      this.refuse(conn, 'TOO_LARGE', `This socket already holds ${groups.size} groups (maxGroupsPerSocket); ungroup one, or redefine an id you hold, before defining "${id}".`, id);
      return;
    }
    groups.set(id, distinct(targets, conn.eva));
  }

  /** `{t:'ungroup', id}` from `conn`; an id it does not hold is ignored (ungroup is idempotent). */
  remove(conn: ClientConnection, id: string): void {
    conn.groups?.delete(id);
  }

  /**
   * A GROUP_TEXT/GROUP_BINARY record from `conn` naming its group `frame[idStart, idEnd)`, carrying
   * `frame[payloadStart, payloadEnd)`: written once (the same bytes reach every target) into the turn's shared
   * records, which each target's queue sends as a view. Returns false when the socket was closed for flooding (its
   * frame is then read no further).
   */
  fanOut(conn: ClientConnection, frame: Uint8Array, idStart: number, idEnd: number, kind: RecordKind, payloadStart: number, payloadEnd: number): boolean {
    if (conn.role !== 'endpoint') {
      this.refuse(conn, 'PROTOCOL', 'An rpc socket cannot send messages; open an endpoint.');
      return true;
    }
    // Decoded with the socket's one-entry cache of record evas: a burst of records to one group decodes its id once.
    const id = conn.targetEva(frame, idStart, idEnd);
    const targets = conn.groups?.get(id);
    if (targets === undefined) {
      this.refuse(conn, 'NOT_FOUND', `No group "${id}" on this socket: define it with a "group" control message before sending records to it (groups end with their socket).`, id);
      return true;
    }
    // The record was counted once on arrival; its other deliveries count too, so fan-out does no more work per
    // second than the same socket's unicast could.
    if (targets.length > 1 && !this.host.withinRate(conn, targets.length - 1)) return false;
    const out = kind === GROUP_TEXT ? TEXT : BINARY;
    const from = conn.evaBytes;
    const bytes = HEADER + from.byteLength + payloadEnd - payloadStart;
    const peers = conn.peers;
    const endpoints = this.host.endpoints;
    const payloadBytes = payloadEnd - payloadStart;
    let payload: Uint8Array | null = null;
    /** Where the record starts in the turn's shared records, once a target took it. */
    let at = -1;
    for (let i = 0; i < targets.length; i++) {
      const to = targets[i];
      const target = peers.has(to) ? endpoints.get(to) : undefined;
      if (target !== undefined && target.state === 'ready') {
        if (!this.admits(target, bytes)) continue;
        if (at < 0) at = this.host.writeShared(out, from, frame, payloadStart, payloadEnd);
        this.host.enqueueShared(target, at, at + bytes, payloadBytes);
      } else {
        // Another broker's endpoint (or not connected: then nothing, as for unicast).
        if (this.cluster.relay(conn, to, out, (payload ??= frame.subarray(payloadStart, payloadEnd)), true)) this.forwardedMessages++;
      }
    }
    return true;
  }

  /** A record of a fan-out on another broker toward `target`, held here: queued, or dropped if `target` lags. */
  deliverRemote(target: ClientConnection, from: Uint8Array, kind: RecordKind, payload: Uint8Array): void {
    if (this.admits(target, HEADER + from.byteLength + payload.byteLength)) this.host.enqueue(target, kind, from, payload, 0, payload.byteLength);
  }

  /**
   * Whether a record of `bytes` may be queued toward `target`: not while it lags, and never so that it would be closed.
   * It lags from half of relayHighWaterMark: the other half stays free for the sender's unicast toward it (a reliable
   * layer's acknowledgements and heartbeats, a room's repairs), which past the mark would hold the sender back.
   */
  private admits(target: ClientConnection, bytes: number): boolean {
    const pending = target.pendingBytes;
    if (pending <= this.options.relayHighWaterMark / 2 && pending + bytes <= this.options.sendBufferLimit) return true;
    this.dropped++;
    log('group record to %s dropped: %d bytes already queued toward it', target.eva, pending);
    return false;
  }

  private refuse(conn: ClientConnection, code: string, message: string, group?: string): void {
    this.host.send(conn, group === undefined ? { t: 'error', code, message } : { t: 'error', code, message, group });
  }
}

/** `targets` without duplicates (a target gets a message once) and without `self` (a socket is never its own peer). */
function distinct(targets: readonly string[], self: string): readonly string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const target of targets) {
    if (target === self || seen.has(target)) continue;
    seen.add(target);
    out.push(target);
  }
  return out;
}
