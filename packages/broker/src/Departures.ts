import { createLogger } from '@vnf/core';
import { CloseCode } from '@vnf/protocol';
import type { ClientBudgets } from './ClientBudgets';
import type { ClientConnection } from './ClientConnection';
import type { ClusterLink } from './ClusterLink';
import { GraceReservations } from './GraceReservations';
import type { ResolvedOptions } from './options';
import type { Relay } from './Relay';
import type { RelayFlow } from './RelayFlow';

const log = createLogger('broker');
/** How long a socket closed by the broker may take to finish the close handshake before it is cut. */
const CLOSE_GRACE_MS = 1000;
/** What a socket cut without a close handshake reports (RFC 6455, 1006). */
const ABNORMAL_CLOSURE = 1006;
/** Close codes after which the client reconnects with its session token: its eva is kept for it during the grace. */
const GRACEFUL_DROPS: ReadonlySet<number> = new Set<number>([CloseCode.SLOW_CONSUMER, CloseCode.RATE_LIMITED, CloseCode.INTERNAL]);

/** What Departures needs of the broker: its tables of sockets, which a socket leaves, and whether it is closing. */
export interface DeparturesHost {
  /** Open sockets by id. */
  readonly connections: Map<string, ClientConnection>;
  /** Registered endpoint sockets of this broker by eva. */
  readonly endpoints: Map<string, ClientConnection>;
  /** True once the broker is closing: no eva is kept for a reconnect then. */
  isClosing(): boolean;
}

/**
 * How a socket leaves: closed by the broker, closed by its client, cut, found dead by the heartbeat or taken over
 * from another broker. Its peers are told at once; its eva and registry session go at once, or are kept for a
 * reconnect during the grace (docs/design.md, "Lifetimes").
 */
export class Departures {
  /** Uncleanly dropped sockets whose eva, session and registry entries are kept for a reconnect, by socket id. */
  private readonly reservations: GraceReservations<ClientConnection>;
  private heartbeat: ReturnType<typeof setInterval> | null = null;
  /** Sockets closed, by close code (metrics): each counted once, when the broker first learns it is closing. */
  readonly closes = new Map<number, number>();

  constructor(
    private readonly options: Pick<ResolvedOptions, 'evaGraceMs' | 'heartbeatIntervalMs' | 'router'>,
    private readonly budgets: ClientBudgets,
    private readonly cluster: ClusterLink,
    private readonly flow: RelayFlow,
    private readonly relay: Relay,
    private readonly host: DeparturesHost,
  ) {
    this.reservations = new GraceReservations(options.evaGraceMs, (conn) => this.endGrace(conn));
  }

  /** Evas kept for a reconnect after an unclean drop, their grace running. */
  get reservedCount(): number {
    return this.reservations.size;
  }

  /** Closes a socket with `code` and forgets it now: its peers are told at once, not when the socket finishes closing. */
  drop(conn: ClientConnection, code: number, reason: string, flush = true): void {
    if (conn.state === 'closed') return;
    this.countClose(code);
    if (flush) this.relay.flush(conn);
    // Closed by the broker, not by its client: an unclean end (wills apply when the session goes).
    this.forget(conn, GRACEFUL_DROPS.has(code));
    try {
      conn.socket.close(code, reason);
    } catch (err) {
      log('closing %s failed: %s', conn.id, String(err));
    }
    // A socket that does not read will not complete the close handshake either.
    conn.terminateTimer = setTimeout(() => conn.socket.terminate(), CLOSE_GRACE_MS);
  }

  /** Cuts the socket without a close handshake, as a network failure would: its eva is kept for a reconnect. */
  cut(conn: ClientConnection): void {
    if (conn.state !== 'closed') this.countClose(ABNORMAL_CLOSURE);
    this.forget(conn, true);
    conn.socket.terminate();
  }

  /** The socket's 'close' event. */
  socketClosed(conn: ClientConnection, code: number): void {
    log('%s closed (%d)', conn.id, code);
    // The client closing (1000, or 1001 when a page goes away) frees its eva at once, cleanly; a socket that just died keeps it.
    const clean = code === CloseCode.NORMAL || code === CloseCode.GOING_AWAY;
    // Not yet counted when its client closed it or it died; a socket the broker closed or cut was counted then.
    if (conn.state !== 'closed') this.countClose(code);
    this.forget(conn, !clean, clean);
    conn.clearTimers();
  }

  /** A reconnect proved the session of the reserved socket `id`: its reservation ends and it is handed back; undefined when none. */
  reclaim(id: string): ClientConnection | undefined {
    return this.reservations.take(id);
  }

  /** A reconnect on another broker took over the eva of socket `id`: it closes 4004, its entries stay for the new session. */
  takenOver(id: string): void {
    const conn = this.host.connections.get(id) ?? this.reservations.take(id);
    if (!conn) return;
    conn.registry?.detach().catch((err: unknown) => log('detaching the registry session of %s failed: %s', conn.eva, String(err)));
    conn.registry = null;
    if (conn.state !== 'closed') this.drop(conn, CloseCode.TAKEN_OVER, 'taken over by a reconnect');
    else this.budgets.give(conn.client, 'evas');
  }

  /**
   * Frees the eva `conn` claimed and closes its registry session. `clean`: its client closed it (1000 or 1001), so
   * wills are not applied; any other end (a lost socket whose grace ran out, a drop by the broker) applies them.
   */
  release(conn: ClientConnection, clean = true): void {
    this.options.router.release(conn.role, conn.eva, conn.id).catch((err: unknown) => log('router release failed: %s', String(err)));
    conn.registry?.close({ applyWills: !clean }).catch((err: unknown) => log('closing the registry session of %s failed: %s', conn.eva, String(err)));
    conn.registry = null;
  }

  /**
   * Every half `heartbeatIntervalMs`, looks at each socket: one heard from since the last look (a frame or a pong)
   * is left alone, so a client that pings by itself (the VNF client does, every 15 s when idle) is never pinged. One
   * silent for a whole interval (two looks) gets a WebSocket ping; one still silent at the next look is cut. A dead
   * socket is noticed within 2 × heartbeatIntervalMs, as when every socket was pinged each interval, at a fraction
   * of the cost: an idle broker sends nothing to clients that keep themselves alive.
   */
  startHeartbeat(): void {
    if (this.heartbeat || this.options.heartbeatIntervalMs === 0) return;
    this.heartbeat = setInterval(() => {
      for (const conn of this.host.connections.values()) {
        // A socket whose reading we paused cannot show us its pong: it is not dead, it is held back.
        if (conn.readingPaused || conn.alive) {
          conn.alive = false;
          conn.silentLooks = 0;
          continue;
        }
        conn.silentLooks++;
        if (conn.silentLooks === 2) conn.socket.ping();
        else if (conn.silentLooks > 2) {
          log('%s missed a heartbeat; terminating', conn.id);
          this.cut(conn);
        }
      }
    }, Math.max(1, Math.floor(this.options.heartbeatIntervalMs / 2)));
  }

  /** The sockets whose evas this broker keeps: registered ones, and those in their grace. */
  *heldClaims(): Iterable<ClientConnection> {
    for (const conn of this.host.connections.values()) if (conn.state === 'ready') yield conn;
    yield* this.reservations.values();
  }

  /** The broker is closing: the heartbeat stops and every reservation ends now, as if its grace had passed. */
  stop(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    this.reservations.expireAll();
  }

  /**
   * Releases what a socket held: its connections (peers get `lost` at once), its client budget, and — at once, or
   * with `grace` once evaGraceMs passed without a reconnect proving its session — its eva and registry session.
   */
  private forget(conn: ClientConnection, grace = false, clean = false): void {
    if (conn.state === 'closed') return;
    const wasReady = conn.state === 'ready';
    conn.state = 'closed';
    if (conn.holds === 'pending') this.budgets.give(conn.client, 'pending');
    const keepsEva = wasReady && grace && !this.host.isClosing() && this.reservations.hold(conn.id, conn);
    if (conn.holds === 'evas' && !keepsEva) this.budgets.give(conn.client, 'evas');
    conn.holds = null;
    conn.clearTimers();
    this.cluster.forget(conn);
    this.flow.forget(conn);
    this.relay.forget(conn);
    // Groups end with their socket, now: a socket kept for its grace would otherwise hold their target lists.
    conn.groups = null;
    this.host.connections.delete(conn.id);
    if (!wasReady) return;
    if (conn.role === 'endpoint') {
      const endpoints = this.host.endpoints;
      if (endpoints.get(conn.eva) === conn) endpoints.delete(conn.eva);
      for (const peer of conn.peers) {
        const target = endpoints.get(peer);
        if (target && target.peers.delete(conn.eva)) this.relay.send(target, { t: 'lost', from: conn.eva });
      }
      conn.peers.clear();
    }
    if (!keepsEva) this.release(conn, clean);
    // Kept for a reconnect, but its client has already rejected its waiting writes: none may win unheard.
    else conn.registry?.endWaits();
  }

  private countClose(code: number): void {
    this.closes.set(code, (this.closes.get(code) ?? 0) + 1);
  }

  /** The grace of an uncleanly dropped socket passed with no reconnect: its eva and registry entries go. */
  private endGrace(conn: ClientConnection): void {
    this.budgets.give(conn.client, 'evas');
    this.release(conn, false);
  }
}
