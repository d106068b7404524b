import { createLogger } from '@vnf/core';
import type { Bus, BusMember, BusMessage, RecordKind, RouteHolder } from '@vnf/protocol';
import { RemoteWindows, windowHold } from './RemoteWindows';
import type { ClientConnection } from './ClientConnection';

const log = createLogger('broker:cluster');
/** How long an open waits for the other broker's answer before it is refused. */
const OPEN_TIMEOUT_MS = 10_000;

/** What ClusterLink needs of its broker. */
export interface ClusterHost {
  /** This broker's node id (the prefix of its socket ids). */
  readonly node: string;
  /** Bytes a sender may have in flight toward one target on another broker before it is not read (relayHighWaterMark). */
  readonly windowBytes: number;
  connection(id: string): ClientConnection | undefined;
  /** Every socket of this broker. */
  connections(): Iterable<ClientConnection>;
  send(conn: ClientConnection, message: object): void;
  /** Queues a relayed record toward `target`; true when `target` is now above relayHighWaterMark. */
  deliver(target: ClientConnection, from: string, kind: RecordKind, payload: Uint8Array): boolean;
  /** Queues one delivery of a group record toward `target`, or drops it if `target` lags (never holds the sender). */
  deliverFanOut(target: ClientConnection, from: string, kind: RecordKind, payload: Uint8Array): void;
  /** A reconnect elsewhere took over the eva of socket `id` (live, or reserved in its grace): it closes 4004, its registry entries stay for the new session. */
  takenOver(id: string): void;
  /** Whether `target` drained below half its high-water mark. */
  drained(target: ClientConnection): boolean;
  /** `conn` stops (or starts again) being read, as held by the flow control of another broker. */
  syncReading(conn: ClientConnection): void;
}

/** A pending open toward another broker. */
interface PendingOpen {
  conn: ClientConnection;
  to: string;
  toSocket: string;
  toNode: string;
  resolve: (accepted: boolean) => void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * The broker's side of a cluster: connections with endpoints held by other brokers (open, records, lost) over a
 * Bus, with relay backpressure across brokers — a target above its high-water mark holds back a sender on another
 * broker exactly as one on its own.
 */
export class ClusterLink {
  private readonly member: BusMember;
  private readonly pending = new Map<number, PendingOpen>();
  private nextOpen = 1;
  private readonly windows: RemoteWindows;
  /** Bytes received and not yet acknowledged, per broker, per `sender\0target`. */
  private readonly acks = new Map<string, Map<string, { socket: string; by: string; bytes: number }>>();
  /** Pairs whose bytes reached `ackBytes`: acknowledged once this bus read is done. */
  private readonly dueAcks: { node: string; key: string }[] = [];
  private readonly ackBytes: number;
  private lastAck: { node: string; socket: string; by: string; ack: { bytes: number } } | null = null;

  constructor(
    bus: Bus,
    private readonly host: ClusterHost,
  ) {
    this.windows = new RemoteWindows(host.windowBytes);
    this.ackBytes = Math.max(1, Math.floor(host.windowBytes / 4));
    this.member = bus.join(host.node, (message) => this.receive(message));
  }

  /** True when `holder` is a socket of another broker. */
  isRemote(holder: RouteHolder): boolean {
    return holder.node !== this.host.node;
  }

  /** Opens `conn` → `to`, held by `holder` on another broker; resolves whether that broker accepted. */
  open(conn: ClientConnection, to: string, holder: RouteHolder): Promise<boolean> {
    const id = this.nextOpen++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.answered(id, false), OPEN_TIMEOUT_MS);
      this.pending.set(id, { conn, to, toSocket: holder.id, toNode: holder.node, resolve, timer });
      this.member.send(holder.node, { t: 'open', id, from: conn.eva, fromSocket: conn.id, fromNode: this.host.node, to, toSocket: holder.id });
    });
  }

  /**
   * Relays a record from `conn` to its peer `to` on another broker; false when `to` is no remote peer of `conn`.
   * `fanOut`: a delivery of a group record, which the other broker drops rather than hold `conn` back.
   */
  relay(conn: ClientConnection, to: string, kind: RecordKind, payload: Uint8Array, fanOut = false): boolean {
    const peer = conn.remotes.get(to);
    if (!peer) return false;
    const message: BusMessage = { t: 'record', from: conn.eva, fromSocket: conn.id, fromNode: this.host.node, toSocket: peer.socket, kind, payload };
    if (fanOut) message.fanOut = true;
    this.member.send(peer.node, message);
    // A fan-out delivery never holds its sender (the target drops it if it lags): outside the window.
    if (!fanOut && this.windows.sent(conn.id, peer.socket, payload.byteLength)) {
      conn.heldRemotely.add(windowHold(peer.socket));
      this.host.syncReading(conn);
    }
    return true;
  }

  /** `conn` closed its connection with the remote peer `to` (or is gone): the other broker tells `to`. */
  disconnect(conn: ClientConnection, to: string): boolean {
    const peer = conn.remotes.get(to);
    if (!peer) return false;
    conn.remotes.delete(to);
    this.endFlow(conn, peer.socket, peer.node);
    this.member.send(peer.node, { t: 'lost', from: conn.eva, fromSocket: conn.id, toSocket: peer.socket });
    return true;
  }

  /** `conn` is gone: its remote peers are told, the remote senders it held read again, the opens it waited for end. */
  forget(conn: ClientConnection): void {
    for (const to of [...conn.remotes.keys()]) this.disconnect(conn, to);
    this.releaseRemote(conn, true);
    conn.heldRemotely.clear();
    this.windows.forget(conn.id);
    for (const [id, open] of this.pending) if (open.conn === conn) this.answered(id, false);
  }

  /** A reconnect on this broker took over `previous`, a socket of another broker. */
  takeOver(previous: RouteHolder): void {
    this.member.send(previous.node, { t: 'takeover', socket: previous.id });
  }

  /** `target` drained: the senders of other brokers it held back are read again. */
  releaseRemote(target: ClientConnection, force = false): void {
    if (target.remoteHeldSenders.size === 0 || (!force && !this.host.drained(target))) return;
    for (const [socket, node] of target.remoteHeldSenders) this.member.send(node, { t: 'release', socket, by: target.id });
    target.remoteHeldSenders.clear();
  }

  leave(): void {
    for (const id of [...this.pending.keys()]) this.answered(id, false);
    this.member.leave();
  }

  private answered(id: number, accepted: boolean): void {
    const open = this.pending.get(id);
    if (!open) return;
    this.pending.delete(id);
    clearTimeout(open.timer);
    if (accepted && open.conn.state === 'ready') open.conn.remotes.set(open.to, { node: open.toNode, socket: open.toSocket });
    open.resolve(accepted && open.conn.state === 'ready');
  }

  private receive(message: BusMessage): void {
    switch (message.t) {
      case 'open': {
        const target = this.host.connection(message.toSocket);
        if (!target || target.state !== 'ready' || target.role !== 'endpoint' || target.eva !== message.to) {
          this.member.send(message.fromNode, { t: 'refused', id: message.id, fromSocket: message.fromSocket });
          return;
        }
        const known = target.remotes.get(message.from);
        if (!known || known.socket !== message.fromSocket) {
          target.remotes.set(message.from, { node: message.fromNode, socket: message.fromSocket });
          this.host.send(target, { t: 'accept', from: message.from });
        }
        this.member.send(message.fromNode, { t: 'opened', id: message.id, fromSocket: message.fromSocket });
        return;
      }
      case 'opened':
      case 'refused':
        this.answered(message.id, message.t === 'opened');
        return;
      case 'record': {
        const target = this.host.connection(message.toSocket);
        // Only from the incarnation the target is connected with: a message of an old socket is dropped.
        if (!target || target.state !== 'ready' || target.remotes.get(message.from)?.socket !== message.fromSocket) {
          log('%s -> %s dropped: not connected', message.from, message.toSocket);
          return;
        }
        if (message.fanOut) {
          this.host.deliverFanOut(target, message.from, message.kind, message.payload);
          return;
        }
        this.acknowledge(message.fromNode, message.fromSocket, target.id, message.payload.byteLength);
        if (this.host.deliver(target, message.from, message.kind, message.payload) && !target.remoteHeldSenders.has(message.fromSocket)) {
          target.remoteHeldSenders.set(message.fromSocket, message.fromNode);
          this.member.send(message.fromNode, { t: 'hold', socket: message.fromSocket, by: target.id });
        }
        return;
      }
      case 'lost': {
        const target = this.host.connection(message.toSocket);
        // A late `lost` of an old incarnation never closes the connection a reconnect reopened.
        if (!target || target.remotes.get(message.from)?.socket !== message.fromSocket) return;
        const peer = target.remotes.get(message.from)!;
        target.remotes.delete(message.from);
        this.endFlow(target, message.fromSocket, peer.node);
        this.host.send(target, { t: 'lost', from: message.from });
        return;
      }
      case 'hold':
      case 'release': {
        const sender = this.host.connection(message.socket);
        if (!sender) return;
        // A hold that crossed the connection's end (its `lost`) would keep the sender unread forever: only peers hold.
        if (message.t === 'hold' && !hasRemotePeer(sender, message.by)) return;
        if (message.t === 'hold') sender.heldRemotely.add(message.by);
        else sender.heldRemotely.delete(message.by);
        this.host.syncReading(sender);
        return;
      }
      case 'ack': {
        const sender = this.host.connection(message.socket);
        if (sender && this.windows.acked(sender.id, message.by, message.bytes) && sender.heldRemotely.delete(windowHold(message.by))) this.host.syncReading(sender);
        return;
      }
      case 'takeover':
        this.host.takenOver(message.socket);
        return;
      case 'down':
        this.nodeDown(message.node);
        return;
    }
  }

  /**
   * The connection of `conn` with `peerSocket` (on `peerNode`) ended: its window goes, the holds the peer placed on
   * `conn` are lifted, and a hold `conn` placed on the peer is released (else the peer would stay unread).
   */
  private endFlow(conn: ClientConnection, peerSocket: string, peerNode: string): void {
    this.windows.drop(conn.id, peerSocket);
    const windowLifted = conn.heldRemotely.delete(windowHold(peerSocket));
    const holdLifted = conn.heldRemotely.delete(peerSocket);
    if (windowLifted || holdLifted) this.host.syncReading(conn);
    if (conn.remoteHeldSenders.delete(peerSocket)) this.member.send(peerNode, { t: 'release', socket: peerSocket, by: conn.id });
    // What `conn` received from the peer and did not acknowledge yet is owed to nobody now.
    this.acks.get(peerNode)?.delete(`${peerSocket}\u0000${conn.id}`);
    if (this.lastAck?.socket === peerSocket && this.lastAck.by === conn.id) this.lastAck = null;
  }

  /**
   * Counts `bytes` of `socket` (on broker `node`) delivered to `by`. A pair is acknowledged once its bytes reach a
   * quarter of the window, at the end of this bus read: a trickle (a ping, a chat) costs no bus message of its own
   * (it never nears its window), and a bulk sender is read again long before its window runs out.
   */
  private acknowledge(node: string, socket: string, by: string, bytes: number): void {
    // Records come in runs of one pair: the run's count grows without a lookup.
    let ack: { bytes: number };
    let key: string;
    const last = this.lastAck;
    if (last && last.socket === socket && last.by === by && last.node === node) {
      ack = last.ack;
      key = '';
    } else {
      let pairs = this.acks.get(node);
      if (!pairs) this.acks.set(node, (pairs = new Map()));
      key = `${socket}\u0000${by}`;
      let found = pairs.get(key);
      if (!found) pairs.set(key, (found = { socket, by, bytes: 0 }));
      ack = found;
      this.lastAck = { node, socket, by, ack };
    }
    const before = ack.bytes;
    ack.bytes += bytes;
    if (before >= this.ackBytes || ack.bytes < this.ackBytes) return;
    this.dueAcks.push({ node, key: key || `${socket}\u0000${by}` });
    if (this.dueAcks.length > 1) return;
    queueMicrotask(() => {
      this.lastAck = null;
      for (const due of this.dueAcks.splice(0)) {
        const pairs = this.acks.get(due.node);
        const owed = pairs?.get(due.key);
        if (!pairs || !owed) continue;
        pairs.delete(due.key);
        this.member.send(due.node, { t: 'ack', ...owed });
      }
    });
  }

  /**
   * Broker `node` is gone: every connection with a socket of it is lost (told once, as a `lost` from it would be),
   * holds it placed are lifted and the opens waiting for its answer are refused.
   */
  private nodeDown(node: string): void {
    this.acks.delete(node);
    this.lastAck = null;
    if (node === this.host.node) return;
    const ofNode = (socket: string) => socket.startsWith(`${node}-`);
    for (const conn of this.host.connections()) {
      for (const [eva, peer] of [...conn.remotes]) {
        if (peer.node !== node) continue;
        conn.remotes.delete(eva);
        this.windows.drop(conn.id, peer.socket);
        this.host.send(conn, { t: 'lost', from: eva });
      }
      for (const [socket, held] of [...conn.remoteHeldSenders]) if (held === node) conn.remoteHeldSenders.delete(socket);
      const before = conn.heldRemotely.size;
      for (const by of [...conn.heldRemotely]) if (ofNode(by)) conn.heldRemotely.delete(by);
      if (conn.heldRemotely.size !== before) this.host.syncReading(conn);
    }
    for (const [id, open] of this.pending) if (open.toNode === node) this.answered(id, false);
    log('broker %s is down: its connections are lost', node);
  }
}

/** Whether `conn` has a connection with socket `socket` of another broker. */
function hasRemotePeer(conn: ClientConnection, socket: string): boolean {
  for (const peer of conn.remotes.values()) if (peer.socket === socket) return true;
  return false;
}
