import { createLogger } from '@vnf/core';
import type { RecordKind } from '@vnf/protocol';
import type { ClientConnection } from './ClientConnection';
import type { ClusterLink } from './ClusterLink';
import type { ResolvedOptions } from './options';
import { SharedRecords } from './outbound';
import type { RelayFlow } from './RelayFlow';

const log = createLogger('broker');
const BINARY_FRAME = { binary: true } as const;
/** A turn's shared group records start as big as the last turn's, up to this. */
const MAX_SHARED_HINT = 1 << 20;

/** What Relay needs of the broker: where the registered endpoints are, and a way to close a socket that does not read. */
export interface RelayHost {
  /** Registered endpoint sockets of this broker by eva: the relay's hot path looks here without awaiting. */
  readonly endpoints: ReadonlyMap<string, ClientConnection>;
  /** Closes `conn` as a slow consumer, without flushing what it could not take. */
  slowConsumer(conn: ClientConnection): void;
}

/**
 * What the broker sends: relayed records (stamped with their sender's eva, held back while their target lags) and
 * control messages, queued per socket and flushed once per I/O turn, so that messages that arrived together leave
 * in one frame.
 */
export class Relay {
  /**
   * Records queued toward sockets of this broker (unicast, each group delivery, records from other brokers) and their
   * payload bytes; records handed to another broker. Plain fields bumped on the hot path, read by BrokerMetrics at
   * scrape time: prom-client is never called per message.
   */
  relayedMessages = 0;
  relayedBytes = 0;
  forwardedMessages = 0;
  private readonly dirty = new Set<ClientConnection>();
  private flushHandle: ReturnType<typeof setImmediate> | null = null;
  /** This turn's group records (one copy each, however many targets), and how many bytes last turn's took. */
  private shared: SharedRecords | null = null;
  private sharedHint = 0;

  constructor(
    private readonly options: Pick<ResolvedOptions, 'relayHighWaterMark' | 'sendBufferLimit' | 'maxPayload'>,
    private readonly flow: RelayFlow,
    private readonly cluster: ClusterLink,
    private readonly host: RelayHost,
  ) {
    this.flushAll = this.flushAll.bind(this);
  }

  /**
   * A record from `conn` to its peer named by `frame[evaStart, evaEnd)`, carrying `frame[payloadStart, payloadEnd)`,
   * on this broker or another. The payload is copied once, into the target's outgoing frame.
   */
  relay(conn: ClientConnection, frame: Uint8Array, evaStart: number, evaEnd: number, kind: RecordKind, payloadStart: number, payloadEnd: number): void {
    if (conn.role !== 'endpoint') {
      this.sendError(conn, 'PROTOCOL', 'An rpc socket cannot send messages; open an endpoint.');
      return;
    }
    const to = conn.targetEva(frame, evaStart, evaEnd);
    const target = conn.peers.has(to) ? this.host.endpoints.get(to) : undefined;
    if (!target || target.state !== 'ready') {
      if (this.cluster.relay(conn, to, kind, frame.subarray(payloadStart, payloadEnd))) {
        this.forwardedMessages++;
        return;
      }
      // The connection closed while this message was in flight: at-most-once delivery drops it.
      log('%s -> %s dropped: not connected', conn.eva, to);
      return;
    }
    if (this.queue(target, kind, conn.evaBytes, frame, payloadStart, payloadEnd)) this.flow.holdBack(conn, target);
  }

  /** Queues a record from another broker toward `target`; true when `target` is now above relayHighWaterMark (its senders must wait). */
  deliver(target: ClientConnection, from: Uint8Array, kind: RecordKind, payload: Uint8Array): boolean {
    return this.queue(target, kind, from, payload, 0, payload.byteLength);
  }

  /**
   * Queues a record toward `target` with no flow control: group fan-out (Groups), which drops a record for a lagging
   * target instead of holding its sender back, and has checked that it stays below sendBufferLimit.
   */
  enqueue(target: ClientConnection, kind: RecordKind, from: Uint8Array, source: Uint8Array, start: number, end: number): void {
    const wasEmpty = target.outbound.isEmpty;
    target.outbound.push(kind, from, source, start, end, this.options.maxPayload);
    this.relayedMessages++;
    this.relayedBytes += end - start;
    this.queued(target, wasEmpty);
  }

  /**
   * Writes a group record carrying `source[start, end)` from `from` once, into this turn's shared records; returns
   * where it starts there (it ends `HEADER + from.byteLength + end - start` bytes later). Then enqueueShared per target.
   */
  writeShared(kind: RecordKind, from: Uint8Array, source: Uint8Array, start: number, end: number): number {
    const shared = (this.shared ??= new SharedRecords(this.sharedHint));
    const at = shared.length;
    shared.write(kind, from, source, start, end);
    return at;
  }

  /**
   * Queues the group record at `[start, end)` of this turn's shared records toward `target`, with no flow control:
   * group fan-out (Groups) drops a record for a lagging target instead of holding its sender back, and has checked
   * that it stays below sendBufferLimit.
   */
  enqueueShared(target: ClientConnection, start: number, end: number, payloadBytes: number): void {
    const wasEmpty = target.outbound.isEmpty;
    target.outbound.pushShared(this.shared as SharedRecords, start, end, this.options.maxPayload);
    this.relayedMessages++;
    this.relayedBytes += payloadBytes;
    this.queued(target, wasEmpty);
  }

  send(conn: ClientConnection, message: object): void {
    this.sendText(conn, JSON.stringify(message));
  }

  /** As `send`, for a control message already serialized. */
  sendText(conn: ClientConnection, json: string): void {
    if (conn.state === 'closed') return;
    const wasEmpty = conn.outbound.isEmpty;
    conn.outbound.controlText(json, this.options.maxPayload);
    this.queued(conn, wasEmpty);
  }

  sendError(conn: ClientConnection, code: string, message: string): void {
    this.send(conn, { t: 'error', code, message });
  }

  /** Sends what is queued for `conn` now, without waiting for the end of the I/O turn. */
  flush(conn: ClientConnection): void {
    if (conn.outbound.isEmpty) return;
    // While senders are held back, each write reports when it reached the kernel: the moment to release them.
    const written = conn.holdsSenders
      ? () => {
          this.cluster.releaseRemote(conn);
          this.flow.releaseHeld(conn);
        }
      : undefined;
    for (const frame of conn.outbound.takeFrames()) conn.socket.send(frame, BINARY_FRAME, written);
  }

  /** `conn` is gone: what was queued for it is never sent. */
  forget(conn: ClientConnection): void {
    conn.outbound.clear();
    this.dirty.delete(conn);
  }

  /** The broker closed: no flush is left to run. */
  stop(): void {
    if (this.flushHandle) clearImmediate(this.flushHandle);
    this.flushHandle = null;
  }

  /** Queues a relayed record toward `target`; true when `target` is now above relayHighWaterMark (its senders must wait). */
  private queue(target: ClientConnection, kind: RecordKind, from: Uint8Array, source: Uint8Array, start: number, end: number): boolean {
    const wasEmpty = target.outbound.isEmpty;
    target.outbound.push(kind, from, source, start, end, this.options.maxPayload);
    this.relayedMessages++;
    this.relayedBytes += end - start;
    const pending = this.queued(target, wasEmpty);
    if (target.state !== 'ready' || pending <= this.options.relayHighWaterMark) return false;
    this.flow.startSlowTimer(target);
    return true;
  }

  /** Something was queued for `conn`: it is flushed at the end of the I/O turn, or closed past sendBufferLimit. Returns its pending bytes. */
  private queued(conn: ClientConnection, wasEmpty: boolean): number {
    const pending = conn.pendingBytes;
    if (pending > this.options.sendBufferLimit) {
      this.host.slowConsumer(conn);
      return pending;
    }
    // A socket with records already queued is already marked for this turn's flush.
    if (wasEmpty) {
      this.dirty.add(conn);
      this.flushHandle ??= setImmediate(this.flushAll);
    }
    return pending;
  }

  /** Sends every queued record, once per I/O turn: messages that arrived together leave in one frame. */
  private flushAll(): void {
    this.flushHandle = null;
    // Group records queued from now on go into new shared records: the flushed frames keep views of these.
    if (this.shared) this.sharedHint = Math.min(MAX_SHARED_HINT, this.shared.length);
    this.shared = null;
    const dirty = [...this.dirty];
    this.dirty.clear();
    for (const conn of dirty) this.flush(conn);
  }
}
