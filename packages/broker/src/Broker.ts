import { createServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { WebSocketServer, type WebSocket } from 'ws';
import { VnfError, createLogger } from '@vnf/core';
import {
  CloseCode,
  PROTOCOL_VERSION,
  RecordKind,
  type ClientMessage,
  type Role,
} from '@vnf/protocol';
import { BrokerCalls } from './BrokerCalls';
import { ClientBudgets } from './ClientBudgets';
import { ClusterLink } from './ClusterLink';
import { FrameIntake } from './FrameIntake';
import { RelayFlow } from './RelayFlow';
import { ClientConnection } from './ClientConnection';
import { GraceReservations } from './GraceReservations';
import { forwardedAddress, resolveOptions, validPath, type BrokerOptions, type ResolvedOptions } from './options';
import { applyServerLimits } from './serverLimits';

const log = createLogger('broker');
/** How long a socket closed by the broker may take to finish the close handshake before it is cut. */
const CLOSE_GRACE_MS = 1000;
/** Close codes after which the client reconnects with its session token: its eva is kept for it during the grace. */
const GRACEFUL_DROPS: ReadonlySet<number> = new Set<number>([CloseCode.SLOW_CONSUMER, CloseCode.RATE_LIMITED, CloseCode.INTERNAL]);

export interface ListenOptions {
  /** Default 8080; 0 picks a free port. */
  port?: number;
  /** Default '127.0.0.1'. */
  host?: string;
}

export interface BrokerAddress {
  host: string;
  port: number;
  /** The ws:// URL clients connect to (host, port and path). */
  url: string;
}

type AnyServer = HttpServer | HttpsServer;

/**
 * The VNF broker: relays messages between endpoints, carries connection open/close/lost, stamps the
 * source eva itself, holds one live socket per eva (session-token takeover), and serves the registry and RPC.
 */
export class Broker {
  private readonly options: ResolvedOptions;
  private readonly wss: WebSocketServer;
  private readonly calls: BrokerCalls;
  private readonly flow: RelayFlow;
  private readonly connections = new Map<string, ClientConnection>();
  /** Registered endpoint sockets of this broker by eva: the relay's hot path looks here without awaiting. */
  private readonly endpoints = new Map<string, ClientConnection>();
  /** Every socket until its 'close' event, including those already forgotten and still closing. */
  private readonly sockets = new Set<WebSocket>();
  private readonly attached: { server: AnyServer; onUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void }[] = [];
  private readonly dirty = new Set<ClientConnection>();
  private flushHandle: ReturnType<typeof setImmediate> | null = null;
  private heartbeat: ReturnType<typeof setInterval> | null = null;
  private ownServer: HttpServer | null = null;
  private removeServerLimits: (() => void) | null = null;
  private readonly budgets: ClientBudgets;
  private readonly intake: FrameIntake;
  private readonly cluster: ClusterLink;
  /** The end of a call's RATE_LIMITED refusal, after its id (the JSON of everything but the id). */
  private readonly callRefusal: string;
  /** Uncleanly dropped sockets whose eva, session and registry entries are kept for a reconnect, by socket id. */
  private readonly reservations: GraceReservations<ClientConnection>;
  private nextId = 1;
  private readonly idPrefix = randomBytes(4).toString('hex');
  private closing: Promise<void> | null = null;

  constructor(options: BrokerOptions = {}) {
    this.options = resolveOptions(options);
    this.flow = new RelayFlow(this.options, (conn) => this.drop(conn, CloseCode.SLOW_CONSUMER, 'slow consumer', false));
    this.budgets = new ClientBudgets(this.options);
    this.intake = new FrameIntake(this.options, this.budgets, {
      control: (conn, message) => this.control(conn, message),
      relay: (conn, to, kind, payload) => this.relay(conn, to, kind, payload),
      sendError: (conn, code, message) => this.sendError(conn, code, message),
      drop: (conn, code, reason) => this.drop(conn, code, reason),
    });
    const refusal = `More than ${this.options.maxCallsInFlight} calls in flight on this socket; wait for answers before calling again.`;
    this.callRefusal = `,"code":"RATE_LIMITED","message":${JSON.stringify(refusal)}}`;
    this.calls = new BrokerCalls(this.options, this.budgets, {
      send: (conn, message) => this.send(conn, message),
      sendText: (conn, json) => this.sendText(conn, json),
      replied: (conn, bytes) => this.intake.replied(conn, bytes),
    });
    this.reservations = new GraceReservations(this.options.evaGraceMs, (conn) => this.endGrace(conn));
    this.cluster = new ClusterLink(this.options.bus, {
      node: this.idPrefix,
      connection: (id) => this.connections.get(id),
      send: (conn, message) => this.send(conn, message),
      deliver: (target, from, kind, payload) => this.deliver(target, Buffer.from(from), kind, payload),
      takenOver: (id) => this.takenOver(id),
      drained: (target) => this.flow.drained(target),
      syncReading: (conn) => conn.syncReading(),
    });
    this.wss = new WebSocketServer({ noServer: true, maxPayload: this.options.maxPayload, clientTracking: false, perMessageDeflate: false });
    this.flushAll = this.flushAll.bind(this);
    this.listen = this.listen.bind(this);
    this.attach = this.attach.bind(this);
    this.close = this.close.bind(this);
  }

  /** Number of open sockets (for monitoring and tests). */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Evas kept for a reconnect after an unclean drop, their grace running (for monitoring and tests). */
  get reservedCount(): number {
    return this.reservations.size;
  }

  /** Starts an HTTP server of its own and serves WebSockets on the broker's path. */
  async listen(options: ListenOptions = {}): Promise<BrokerAddress> {
    this.assertOpen();
    if (this.ownServer) throw new VnfError('INVALID_ARGUMENT', 'This broker is already listening; create another Broker for another port.');
    const port = options.port ?? 8080;
    const host = options.host ?? '127.0.0.1';
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new VnfError('INVALID_ARGUMENT', `port must be 0..65535; got ${port}.`);
    const { headersTimeoutMs, requestTimeoutMs } = this.options;
    // Idle connections that never send their upgrade request are checked this often against headersTimeout.
    const checkEvery = Math.max(100, Math.min(1000, headersTimeoutMs || 1000, requestTimeoutMs || 1000));
    const server = createServer({ headersTimeout: headersTimeoutMs, requestTimeout: requestTimeoutMs, connectionsCheckingInterval: checkEvery }, (_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain' });
      res.end(`This is a VNF broker: connect a WebSocket to ${this.options.path}.\n`);
    });
    this.ownServer = server;
    this.removeServerLimits = applyServerLimits(server, {
      maxConnections: this.options.maxConnections,
      maxConnectionsPerAddress: this.options.trustProxy > 0 ? Infinity : this.options.maxConnectionsPerAddress,
      headersTimeoutMs,
      requestTimeoutMs,
    });
    this.attach(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address() as AddressInfo;
    const shown = address.address.includes(':') ? `[${address.address}]` : address.address;
    return { host: address.address, port: address.port, url: `ws://${shown}:${address.port}${this.options.path}` };
  }

  /** Serves WebSockets on an existing http/https server (an Express app's) at `path`, leaving its other routes alone. */
  attach(server: AnyServer, options: { path?: string } = {}): void {
    this.assertOpen();
    const path = options.path === undefined ? this.options.path : validPath(options.path);
    const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
      if (pathOf(req) !== path) {
        // Another upgrade handler may own this path; answer only when nobody else can.
        if (server.listenerCount('upgrade') === 1) rejectUpgrade(socket, 404, 'Not Found');
        return;
      }
      if (this.closing) {
        rejectUpgrade(socket, 503, 'Service Unavailable');
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, req));
    };
    server.on('upgrade', onUpgrade);
    this.attached.push({ server, onUpgrade });
    this.startHeartbeat();
  }

  /**
   * Cuts the socket holding `eva` without a close handshake, as a network failure would: its peers get
   * `lost` and its client reconnects. For operations and tests. Returns false when no socket holds `eva` here.
   */
  terminate(eva: string, role: Role = 'endpoint'): boolean {
    const conn = [...this.connections.values()].find((c) => c.state === 'ready' && c.role === role && c.eva === eva);
    if (!conn) return false;
    this.forget(conn, true);
    conn.socket.terminate();
    return true;
  }

  /** Closes every socket (1001), stops every timer and, if `listen` started one, the HTTP server. Idempotent. */
  close(): Promise<void> {
    if (!this.closing) this.closing = this.shutDown();
    return this.closing;
  }

  // ---- sockets ---------------------------------------------------------------------------------

  private accept(socket: WebSocket, request: IncomingMessage): void {
    const conn = new ClientConnection(`${this.idPrefix}-${this.nextId++}`, socket, request, this.clientOf(request));
    this.connections.set(conn.id, conn);
    this.sockets.add(socket);
    socket.on('error', (err) => log('socket %s error: %s', conn.id, err.message));
    socket.on('close', (code) => this.socketClosed(conn, code));
    socket.on('pong', () => (conn.alive = true));
    socket.on('message', (data: Buffer, isBinary: boolean) => this.intake.frame(conn, data, isBinary));
    const origin = conn.origin;
    if (this.options.allowedOrigins && origin !== undefined && !this.options.allowedOrigins.has(origin)) {
      this.drop(conn, CloseCode.UNAUTHORIZED, 'origin not allowed');
      return;
    }
    if (!this.budgets.take(conn.client, 'pending')) {
      this.drop(conn, CloseCode.CLIENT_LIMIT, 'too many sockets from this client');
      return;
    }
    conn.holds = 'pending';
    conn.helloTimer = setTimeout(() => this.drop(conn, CloseCode.HELLO_TIMEOUT, 'no hello in time'), this.options.helloTimeoutMs);
  }

  /** The budget key of a request: the user's clientKey, or the (forwarded) remote address. Never throws. */
  private clientOf(request: IncomingMessage): string {
    try {
      const key = this.options.clientKey(request);
      if (typeof key === 'string' && key.length > 0) return key;
      log('clientKey returned %s; counting the request by its address', typeof key);
    } catch (err) {
      log('clientKey threw (%s); counting the request by its address', String(err));
    }
    return forwardedAddress(request, this.options.trustProxy);
  }

  private control(conn: ClientConnection, message: ClientMessage): void {
    if (message.t === 'hello') {
      if (conn.state === 'hello') {
        this.hello(conn, message).catch((err: unknown) => this.failed(conn, 'registering', err));
      }
      else this.sendError(conn, 'PROTOCOL', 'This socket already sent its hello; open another socket for another eva.');
      return;
    }
    if (conn.state === 'hello') {
      this.drop(conn, CloseCode.PROTOCOL, 'the first message must be a hello');
      return;
    }
    if (conn.state !== 'ready') {
      this.sendError(conn, 'PROTOCOL', `Wait for the welcome before sending "${message.t}".`);
      return;
    }
    switch (message.t) {
      case 'ping':
        // The client's own liveness check (browsers cannot send WebSocket pings); counted against the flood limit like any record.
        this.send(conn, { t: 'pong' });
        return;
      case 'call':
        if (conn.callsInFlight >= this.options.maxCallsInFlight) {
          // Built from text made once: a frame of a thousand calls past the budget must cost little to refuse.
          this.sendText(conn, `{"t":"failure","id":${message.id}${this.callRefusal}`);
          return;
        }
        void this.calls.call(conn, message.id, message.method, message.params);
        return;
      case 'open':
        if (this.endpointOnly(conn, message.t)) {
          const to = message.to;
          if (conn.opensInFlight >= this.options.maxOpensInFlight) {
            this.send(conn, { t: 'refused', to, code: 'RATE_LIMITED', message: `More than ${this.options.maxOpensInFlight} opens in flight; wait for answers.` });
            return;
          }
          conn.opensInFlight++;
          this.open(conn, to)
            .catch((err: unknown) => {
              log('open %s -> %s failed: %s', conn.eva, to, String(err));
              this.send(conn, { t: 'refused', to, code: 'INTERNAL', message: 'The broker could not look up the target; retry later.' });
            })
            .finally(() => conn.opensInFlight--);
        }
        return;
      case 'close':
        if (this.endpointOnly(conn, message.t)) this.disconnect(conn, message.to);
        return;
    }
  }

  private endpointOnly(conn: ClientConnection, what: string): boolean {
    if (conn.role === 'endpoint') return true;
    this.sendError(conn, 'PROTOCOL', `An rpc socket cannot "${what}"; open an endpoint for connections and messages.`);
    return false;
  }

  private async hello(conn: ClientConnection, hello: Extract<ClientMessage, { t: 'hello' }>): Promise<void> {
    if (conn.helloTimer) clearTimeout(conn.helloTimer);
    conn.helloTimer = null;
    if (hello.v !== PROTOCOL_VERSION) {
      this.drop(conn, CloseCode.VERSION, `this broker speaks protocol version ${PROTOCOL_VERSION}`);
      return;
    }
    conn.state = 'claiming';
    let allowed = true;
    const request = conn.request;
    conn.request = null;
    if (this.options.authenticate && request) {
      try {
        allowed = (await this.options.authenticate(hello.eva, hello.auth, request)) === true;
      } catch (err) {
        log('authenticate threw for %s: %s', hello.eva, String(err));
        allowed = false;
      }
    }
    if (conn.closed) return;
    if (!allowed) {
      this.drop(conn, CloseCode.UNAUTHORIZED, 'authentication failed');
      return;
    }
    const claim = await this.options.router.claim(hello.role, hello.eva, { id: conn.id, node: this.idPrefix, session: newSessionToken() }, hello.session);
    if (conn.closed) {
      if (claim.outcome !== 'in-use') await this.options.router.release(hello.role, hello.eva, conn.id);
      return;
    }
    if (claim.outcome === 'in-use') {
      this.drop(conn, CloseCode.EVA_IN_USE, 'eva in use');
      return;
    }
    if (claim.outcome === 'replaced' && this.cluster.isRemote(claim.previous)) this.cluster.takeOver(claim.previous);
    if (claim.outcome === 'replaced') {
      const live = this.connections.get(claim.previous.id);
      if (live) {
        // Not noticed dead yet (a blip): its registry session passes to the new socket before it closes.
        if (live.state === 'ready') this.calls.adoptRegistry(conn, live, hello.eva);
        this.drop(live, CloseCode.TAKEN_OVER, 'taken over by a reconnect');
      }
    }
    this.budgets.give(conn.client, 'pending');
    conn.holds = null;
    let previous: ClientConnection | undefined;
    if (claim.outcome === 'replaced') {
      previous = this.reservations.take(claim.previous.id);
      if (previous) this.budgets.give(previous.client, 'evas');
    }
    if (!this.budgets.take(conn.client, 'evas')) {
      // Frees the claim and any registry session adopted above; a reserved predecessor's unit went back already.
      conn.role = hello.role;
      conn.eva = hello.eva;
      this.release(conn);
      if (previous) this.release(previous);
      this.drop(conn, CloseCode.CLIENT_LIMIT, 'too many evas from this client');
      return;
    }
    conn.holds = 'evas';
    conn.role = hello.role;
    conn.eva = hello.eva;
    conn.evaBytes = Buffer.from(hello.eva);
    conn.state = 'ready';
    if (conn.role === 'endpoint') this.endpoints.set(conn.eva, conn);
    // A reconnect within the grace keeps what the session held: its registry entries stay, its watches restart.
    if (previous) this.calls.adoptRegistry(conn, previous);
    log('%s registered %s %s (%s)', conn.id, conn.role, conn.eva, claim.outcome);
    this.send(conn, {
      t: 'welcome',
      session: claim.session,
      maxFrame: this.options.maxPayload,
      limits: limitsOf(this.options),
    });
  }

  private async open(conn: ClientConnection, to: string): Promise<void> {
    if (to === conn.eva) {
      this.send(conn, { t: 'refused', to, code: 'INVALID_ARGUMENT', message: 'An endpoint cannot connect to itself.' });
      return;
    }
    if (conn.peers.has(to) || conn.remotes.has(to)) {
      this.send(conn, { t: 'opened', to });
      return;
    }
    const holder = await this.options.router.lookup('endpoint', to);
    if (conn.state !== 'ready') return;
    if (holder && this.cluster.isRemote(holder)) {
      const accepted = await this.cluster.open(conn, to, holder);
      if (conn.state !== 'ready') return;
      if (accepted) this.send(conn, { t: 'opened', to });
      else this.send(conn, { t: 'refused', to, code: 'NOT_FOUND', message: `No endpoint "${to}" is registered with the broker. Check the eva, or retry once it is open.` });
      return;
    }
    const target = holder && this.connections.get(holder.id);
    if (!target || target.state !== 'ready') {
      this.send(conn, { t: 'refused', to, code: 'NOT_FOUND', message: `No endpoint "${to}" is registered with the broker. Check the eva, or retry once it is open.` });
      return;
    }
    conn.peers.add(to);
    if (!target.peers.has(conn.eva)) {
      target.peers.add(conn.eva);
      this.send(target, { t: 'accept', from: conn.eva });
    }
    this.send(conn, { t: 'opened', to });
  }

  private disconnect(conn: ClientConnection, to: string): void {
    if (this.cluster.disconnect(conn, to)) return;
    if (!conn.peers.delete(to)) return;
    const target = this.endpoints.get(to);
    if (target && target.peers.delete(conn.eva)) this.send(target, { t: 'lost', from: conn.eva });
  }

  private relay(conn: ClientConnection, to: string, kind: RecordKind, payload: Uint8Array): void {
    if (conn.role !== 'endpoint') {
      this.sendError(conn, 'PROTOCOL', 'An rpc socket cannot send messages; open an endpoint.');
      return;
    }
    const target = conn.peers.has(to) ? this.endpoints.get(to) : undefined;
    if (!target || target.state !== 'ready') {
      if (this.cluster.relay(conn, to, kind, payload)) return;
      // The connection closed while this message was in flight: at-most-once delivery drops it.
      log('%s -> %s dropped: not connected', conn.eva, to);
      return;
    }
    if (this.deliver(target, conn.evaBytes, kind, payload)) this.flow.holdBack(conn, target);
  }

  /** Queues a record toward `target`; true when `target` is now above relayHighWaterMark (its senders must wait). */
  private deliver(target: ClientConnection, from: Uint8Array, kind: RecordKind, payload: Uint8Array): boolean {
    target.outbound.push(kind, from, payload);
    this.queued(target);
    if (target.state !== 'ready' || target.pendingBytes <= this.options.relayHighWaterMark) return false;
    this.flow.startSlowTimer(target);
    return true;
  }

  /** A reconnect on another broker took over the eva of socket `id`: it closes 4004, its entries stay for the new session. */
  private takenOver(id: string): void {
    const conn = this.connections.get(id) ?? this.reservations.take(id);
    if (!conn) return;
    conn.registry?.detach().catch((err: unknown) => log('detaching the registry session of %s failed: %s', conn.eva, String(err)));
    conn.registry = null;
    if (conn.state !== 'closed') this.drop(conn, CloseCode.TAKEN_OVER, 'taken over by a reconnect');
    else this.budgets.give(conn.client, 'evas');
  }

  /** The router or store failed (a Redis outage, say): the socket is closed, never the broker. */
  private failed(conn: ClientConnection, what: string, err: unknown): void {
    log('%s failed while %s: %s', conn.id, what, String(err));
    this.drop(conn, CloseCode.INTERNAL, 'broker error; retry later');
  }

  // ---- outbound --------------------------------------------------------------------------------

  private send(conn: ClientConnection, message: object): void {
    if (conn.state === 'closed') return;
    conn.outbound.control(message);
    this.queued(conn);
  }

  /** As `send`, for a control message already serialized. */
  private sendText(conn: ClientConnection, json: string): void {
    if (conn.state === 'closed') return;
    conn.outbound.controlText(json);
    this.queued(conn);
  }

  private sendError(conn: ClientConnection, code: string, message: string): void {
    this.send(conn, { t: 'error', code, message });
  }

  private queued(conn: ClientConnection): void {
    if (conn.pendingBytes > this.options.sendBufferLimit) {
      this.drop(conn, CloseCode.SLOW_CONSUMER, 'slow consumer', false);
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

  private flush(conn: ClientConnection): void {
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

  // ---- closing ---------------------------------------------------------------------------------

  /** Closes a socket with `code` and forgets it now: its peers are told at once, not when the socket finishes closing. */
  private drop(conn: ClientConnection, code: number, reason: string, flush = true): void {
    if (conn.state === 'closed') return;
    if (flush) this.flush(conn);
    this.forget(conn, GRACEFUL_DROPS.has(code));
    try {
      conn.socket.close(code, reason);
    } catch (err) {
      log('closing %s failed: %s', conn.id, String(err));
    }
    // A socket that does not read will not complete the close handshake either.
    conn.terminateTimer = setTimeout(() => conn.socket.terminate(), CLOSE_GRACE_MS);
  }

  private socketClosed(conn: ClientConnection, code: number): void {
    log('%s closed (%d)', conn.id, code);
    this.sockets.delete(conn.socket);
    // The client closing (1000, or 1001 when a page goes away) frees its eva at once; a socket that just died keeps it.
    this.forget(conn, code !== CloseCode.NORMAL && code !== CloseCode.GOING_AWAY);
    conn.clearTimers();
  }

  /**
   * Releases what a socket held: its connections (peers get `lost` at once), its client budget, and — at once, or
   * with `grace` once evaGraceMs passed without a reconnect proving its session — its eva and registry session.
   */
  private forget(conn: ClientConnection, grace = false): void {
    if (conn.state === 'closed') return;
    const wasReady = conn.state === 'ready';
    conn.state = 'closed';
    if (conn.holds === 'pending') this.budgets.give(conn.client, 'pending');
    const keepsEva = wasReady && grace && !this.closing && this.reservations.hold(conn.id, conn);
    if (conn.holds === 'evas' && !keepsEva) this.budgets.give(conn.client, 'evas');
    conn.holds = null;
    conn.clearTimers();
    this.cluster.forget(conn);
    this.flow.forget(conn);
    conn.outbound.clear();
    this.dirty.delete(conn);
    this.connections.delete(conn.id);
    if (!wasReady) return;
    if (conn.role === 'endpoint') {
      if (this.endpoints.get(conn.eva) === conn) this.endpoints.delete(conn.eva);
      for (const peer of conn.peers) {
        const target = this.endpoints.get(peer);
        if (target && target.peers.delete(conn.eva)) this.send(target, { t: 'lost', from: conn.eva });
      }
      conn.peers.clear();
    }
    if (!keepsEva) this.release(conn);
  }

  /** The grace of an uncleanly dropped socket passed with no reconnect: its eva and registry entries go. */
  private endGrace(conn: ClientConnection): void {
    this.budgets.give(conn.client, 'evas');
    this.release(conn);
  }

  private release(conn: ClientConnection): void {
    this.options.router.release(conn.role, conn.eva, conn.id).catch((err: unknown) => log('router release failed: %s', String(err)));
    conn.registry?.close().catch((err: unknown) => log('closing the registry session of %s failed: %s', conn.eva, String(err)));
    conn.registry = null;
  }

  private startHeartbeat(): void {
    if (this.heartbeat || this.options.heartbeatIntervalMs === 0) return;
    this.heartbeat = setInterval(() => {
      for (const conn of [...this.connections.values()]) {
        // A socket whose reading we paused cannot show us its pong: it is not dead, it is held back.
        if (conn.readingPaused) continue;
        if (!conn.alive) {
          log('%s missed a heartbeat; terminating', conn.id);
          this.forget(conn, true);
          conn.socket.terminate();
          continue;
        }
        conn.alive = false;
        conn.socket.ping();
      }
    }, this.options.heartbeatIntervalMs);
  }

  private async shutDown(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    this.reservations.expireAll();
    this.removeServerLimits?.();
    for (const { server, onUpgrade } of this.attached) server.off('upgrade', onUpgrade);
    const closed = [...this.sockets].map((socket) => new Promise<void>((resolve) => socket.once('close', () => resolve())));
    for (const conn of [...this.connections.values()]) this.drop(conn, CloseCode.GOING_AWAY, 'broker shutting down');
    await Promise.all(closed);
    if (this.flushHandle) clearImmediate(this.flushHandle);
    this.flushHandle = null;
    this.cluster.leave();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    const server = this.ownServer;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  private assertOpen(): void {
    if (this.closing) throw new VnfError('DESTROYED', 'This broker was closed; create a new Broker.');
  }
}

/** The budgets a VNF client honours on its side (announced in the welcome): absent means unlimited. */
function limitsOf(options: ResolvedOptions): { callsInFlight?: number; controlPerSecond?: number } {
  const limits: { callsInFlight?: number; controlPerSecond?: number } = {};
  if (Number.isFinite(options.maxCallsInFlight)) limits.callsInFlight = options.maxCallsInFlight;
  if (Number.isFinite(options.maxControlPerSecond)) limits.controlPerSecond = options.maxControlPerSecond;
  return limits;
}

function newSessionToken(): string {
  return randomBytes(18).toString('base64url');
}

function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

function rejectUpgrade(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

