import { createLogger } from '@vnf/core';
import type { RecordKind } from '@vnf/protocol';
import type { ClientConnection } from './ClientConnection';
import type { ClusterLink } from './ClusterLink';
import type { ResolvedOptions } from './options';
import type { RelayFlow } from './RelayFlow';

const log = createLogger('broker');

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
  private readonly dirty = new Set<ClientConnection>();
  private flushHandle: ReturnType<typeof setImmediate> | null = null;

  constructor(
    private readonly options: Pick<ResolvedOptions, 'relayHighWaterMark' | 'sendBufferLimit' | 'maxPayload'>,
    private readonly flow: RelayFlow,
    private readonly cluster: ClusterLink,
    private readonly host: RelayHost,
  ) {
    this.flushAll = this.flushAll.bind(this);
  }

  /** A record from `conn` to its peer `to`, on this broker or another. */
  relay(conn: ClientConnection, to: string, kind: RecordKind, payload: Uint8Array): void {
    if (conn.role !== 'endpoint') {
      this.sendError(conn, 'PROTOCOL', 'An rpc socket cannot send messages; open an endpoint.');
      return;
    }
    const target = conn.peers.has(to) ? this.host.endpoints.get(to) : undefined;
    if (!target || target.state !== 'ready') {
      if (this.cluster.relay(conn, to, kind, payload)) return;
      // The connection closed while this message was in flight: at-most-once delivery drops it.
      log('%s -> %s dropped: not connected', conn.eva, to);
      return;
    }
    if (this.deliver(target, conn.evaBytes, kind, payload)) this.flow.holdBack(conn, target);
  }

  /** Queues a record toward `target`; true when `target` is now above relayHighWaterMark (its senders must wait). */
  deliver(target: ClientConnection, from: Uint8Array, kind: RecordKind, payload: Uint8Array): boolean {
    target.outbound.push(kind, from, payload);
    this.queued(target);
    if (target.state !== 'ready' || target.pendingBytes <= this.options.relayHighWaterMark) return false;
    this.flow.startSlowTimer(target);
    return true;
  }

  send(conn: ClientConnection, message: object): void {
    if (conn.state === 'closed') return;
    conn.outbound.control(message);
    this.queued(conn);
  }

  /** As `send`, for a control message already serialized. */
  sendText(conn: ClientConnection, json: string): void {
    if (conn.state === 'closed') return;
    conn.outbound.controlText(json);
    this.queued(conn);
  }

  sendError(conn: ClientConnection, code: string, message: string): void {
    this.send(conn, { t: 'error', code, message });
  }

  /** Sends what is queued for `conn` now, without waiting for the end of the I/O turn. */
  flush(conn: ClientConnection): void {
    if (conn.outbound.isEmpty) return;
    // While senders are held back, each write reports when it reached the kernel: the moment to release them.
    const written =
      conn.heldSenders.size > 0 || conn.remoteHeldSenders.size > 0
        ? () => {
            this.cluster.releaseRemote(conn);
            this.flow.releaseHeld(conn);
          }
        : undefined;
    for (const frame of conn.outbound.takeFrames(this.options.maxPayload)) conn.socket.send(frame, { binary: true }, written);
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

  private queued(conn: ClientConnection): void {
    if (conn.pendingBytes > this.options.sendBufferLimit) {
      this.host.slowConsumer(conn);
      return;
    }
    this.dirty.add(conn);
    this.flushHandle ??= setImmediate(this.flushAll);
  }

  /** Sends every queued record, once per I/O turn: messages that arrived together leave in one frame. */
  private flushAll(): void {
    this.flushHandle = null;
    const dirty = [...this.dirty];
    this.dirty.clear();
    for (const conn of dirty) this.flush(conn);
  }
}
