import { createServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Registry } from 'prom-client';
import { VnfError, createLogger, type RegistryStorage, type RegistryStore } from '@vnf/core';
import { CloseCode, type Role } from '@vnf/protocol';
import type { MemoryRegistryStore } from '@vnf/registry';
import { Admission } from './Admission';
import { BrokerMetrics } from './BrokerMetrics';
import { BrokerCalls } from './BrokerCalls';
import { ClientBudgets } from './ClientBudgets';
import { ClaimRenewal } from './ClaimRenewal';
import { ClusterLink } from './ClusterLink';
import { ControlDispatch } from './ControlDispatch';
import { Departures } from './Departures';
import { FrameIntake } from './FrameIntake';
import { Groups } from './Groups';
import { healthHandler, metricsHandler, operatorRoute, type BrokerHealth, type RequestHandler } from './httpHandlers';
import { Relay } from './Relay';
import { RelayFlow } from './RelayFlow';
import { ClientConnection } from './ClientConnection';
import { resolveOptions, validPath, type BrokerOptions, type ResolvedOptions } from './options';
import { pingRouter } from './RouterPing';
import { applyServerLimits } from './serverLimits';

const log = createLogger('broker');

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
 *
 * This class accepts sockets and wires its collaborators, each behind a small host interface: Admission (origin,
 * pending budget, hello, claim and takeover), FrameIntake (frames, flood limits, per-client pacing), ControlDispatch
 * (ping, call, open, close, group), BrokerCalls (RPC and the registry), Relay (records and control messages out,
 * flushed once per I/O turn), Groups (server-side fan-out), RelayFlow (relay backpressure), ClusterLink (the other
 * brokers) and Departures (drops, grace, heartbeat). BrokerMetrics reads their counts at scrape time (/metrics,
 * /healthz: httpHandlers).
 */
export class Broker {
  private readonly options: ResolvedOptions;
  private readonly ownStore: MemoryRegistryStore | null;
  private readonly wss: WebSocketServer;
  private readonly connections = new Map<string, ClientConnection>();
  /** Registered endpoint sockets of this broker by eva: the relay's hot path looks here without awaiting. */
  private readonly endpoints = new Map<string, ClientConnection>();
  /** Every socket until its 'close' event, including those already forgotten and still closing. */
  private readonly sockets = new Set<WebSocket>();
  private readonly attached: { server: AnyServer; onUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void }[] = [];
  private ownServer: HttpServer | null = null;
  private removeServerLimits: (() => void) | null = null;
  private readonly budgets: ClientBudgets;
  private readonly flow: RelayFlow;
  private readonly intake: FrameIntake;
  private readonly calls: BrokerCalls;
  private readonly cluster: ClusterLink;
  private readonly relay: Relay;
  private readonly groups: Groups;
  private readonly departures: Departures;
  private readonly renewal: ClaimRenewal;
  private readonly admission: Admission;
  private readonly dispatch: ControlDispatch;
  private readonly metricSet: BrokerMetrics;
  private readonly routes: { metrics: RequestHandler; health: RequestHandler };
  private nextId = 1;
  private readonly idPrefix = randomBytes(4).toString('hex');
  private closing: Promise<void> | null = null;

  constructor(options: BrokerOptions = {}) {
    this.options = resolveOptions(options);
    // The default store is the broker's own: it stops the store's timers (room state countdowns) when it closes.
    // A store the broker made is the broker's to close (the cluster on Redis closes its own).
    this.ownStore = (options as { registryStore?: unknown } | null)?.registryStore === undefined && !this.options.cluster ? (this.options.registryStore as MemoryRegistryStore) : null;
    // Hosts reach the collaborators built after them through arrows, which run only once this constructor has returned.
    const slowConsumer = (conn: ClientConnection): void => this.departures.drop(conn, CloseCode.SLOW_CONSUMER, 'slow consumer', false);
    this.flow = new RelayFlow(this.options, slowConsumer);
    this.budgets = new ClientBudgets(this.options);
    this.intake = new FrameIntake(this.options, this.budgets, {
      control: (conn, message) => this.dispatch.control(conn, message),
      relay: (conn, frame, evaStart, evaEnd, kind, payloadStart, payloadEnd) => this.relay.relay(conn, frame, evaStart, evaEnd, kind, payloadStart, payloadEnd),
      fanOut: (conn, frame, idStart, idEnd, kind, payloadStart, payloadEnd) => this.groups.fanOut(conn, frame, idStart, idEnd, kind, payloadStart, payloadEnd),
      sendError: (conn, code, message) => this.relay.sendError(conn, code, message),
      drop: (conn, code, reason) => this.departures.drop(conn, code, reason),
    });
    this.calls = new BrokerCalls(this.options, this.budgets, {
      send: (conn, message) => this.relay.send(conn, message),
      sendText: (conn, json) => this.relay.sendText(conn, json),
      replied: (conn, bytes) => this.intake.replied(conn, bytes),
      sessionOpened: (conn) => this.renewal.leaseOwner(conn.eva),
    });
    this.cluster = new ClusterLink(this.options.bus, {
      node: this.idPrefix,
      windowBytes: this.options.relayHighWaterMark,
      connection: (id) => this.connections.get(id),
      connections: () => this.connections.values(),
      send: (conn, message) => this.relay.send(conn, message),
      deliver: (target, from, kind, payload) => this.relay.deliver(target, evaBytes(from), kind, payload),
      deliverFanOut: (target, from, kind, payload) => this.groups.deliverRemote(target, evaBytes(from), kind, payload),
      takenOver: (id) => this.departures.takenOver(id),
      drained: (target) => this.flow.drained(target),
      syncReading: (conn) => conn.syncReading(),
    });
    this.relay = new Relay(this.options, this.flow, this.cluster, { endpoints: this.endpoints, slowConsumer });
    this.groups = new Groups(this.options, this.cluster, {
      endpoints: this.endpoints,
      send: (conn, message) => this.relay.send(conn, message),
      enqueue: (target, kind, from, source, start, end) => this.relay.enqueue(target, kind, from, source, start, end),
      writeShared: (kind, from, source, start, end) => this.relay.writeShared(kind, from, source, start, end),
      enqueueShared: (target, start, end, payloadBytes) => this.relay.enqueueShared(target, start, end, payloadBytes),
      withinRate: (conn, records) => this.intake.withinRate(conn, records),
    });
    this.departures = new Departures(this.options, this.budgets, this.cluster, this.flow, this.relay, {
      connections: this.connections,
      endpoints: this.endpoints,
      isClosing: () => this.closing !== null,
    });
    this.renewal = new ClaimRenewal(this.options.router, this.options.registryStore, this.options.claimTtlMs, () => this.departures.heldClaims());
    this.admission = new Admission(this.options, this.budgets, this.calls, this.cluster, {
      node: this.idPrefix,
      connections: this.connections,
      endpoints: this.endpoints,
      send: (conn, message) => this.relay.send(conn, message),
      drop: (conn, code, reason) => this.departures.drop(conn, code, reason),
      release: (conn) => this.departures.release(conn),
      reclaim: (id) => this.departures.reclaim(id),
    });
    this.dispatch = new ControlDispatch(this.options, this.calls, this.cluster, {
      connections: this.connections,
      endpoints: this.endpoints,
      hello: (conn, hello) => this.admission.hello(conn, hello),
      send: (conn, message) => this.relay.send(conn, message),
      sendText: (conn, json) => this.relay.sendText(conn, json),
      sendError: (conn, code, message) => this.relay.sendError(conn, code, message),
      drop: (conn, code, reason) => this.departures.drop(conn, code, reason),
      defineGroup: (conn, id, targets) => this.groups.define(conn, id, targets),
      removeGroup: (conn, id) => this.groups.remove(conn, id),
    });
    this.metricSet = new BrokerMetrics(
      {
        sockets: () => this.connections.size,
        endpoints: () => this.endpoints.size,
        rpcSockets: () => this.rpcSocketCount(),
        connections: () => this.openConnectionCount(),
        heldBackSenders: () => this.heldBackCount(),
        reservedEvas: () => this.departures.reservedCount,
        relayedMessages: () => this.relay.relayedMessages,
        relayedBytes: () => this.relay.relayedBytes,
        forwardedMessages: () => this.relay.forwardedMessages + this.groups.forwardedMessages,
        fanOutDropped: () => this.groups.dropCount,
        closes: () => this.departures.closes,
        registryWatches: () => this.budgets.totalWatches,
        registryEntries: storageOf(this.options.registryStore)?.entryCount?.bind(storageOf(this.options.registryStore)),
      },
      this.options.router,
    );
    this.routes = { metrics: metricsHandler(this.metricSet), health: healthHandler(() => this.health()) };
    this.wss = new WebSocketServer({ noServer: true, maxPayload: this.options.maxPayload, clientTracking: false, perMessageDeflate: false });
    this.listen = this.listen.bind(this);
    this.attach = this.attach.bind(this);
    this.close = this.close.bind(this);
    this.metrics = this.metrics.bind(this);
    this.health = this.health.bind(this);
  }

  /** Number of open sockets (for monitoring and tests). */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Group records dropped for a target above relayHighWaterMark instead of queued (for monitoring and tests). */
  get fanOutDropCount(): number {
    return this.groups.dropCount;
  }

  /** Evas kept for a reconnect after an unclean drop, their grace running (for monitoring and tests). */
  get reservedCount(): number {
    return this.departures.reservedCount;
  }

  /** The broker's Prometheus metrics in the text format (README, Metrics and health); never names an eva or an address. */
  metrics(): Promise<string> {
    return this.metricSet.metrics();
  }

  /** The Content-Type of `metrics()`'s text. */
  get metricsContentType(): string {
    return this.metricSet.contentType;
  }

  /** This broker's own prom-client registry (not the global one): merge it with yours with `Registry.merge`. */
  get metricsRegistry(): Registry {
    return this.metricSet.registry;
  }

  /**
   * Ready unless the broker is closing or closed, or its router has a `ping` that rejects or takes more than 2 s.
   * What /healthz answers.
   */
  async health(): Promise<BrokerHealth> {
    if (this.closing) return { status: 'unavailable', reason: 'broker closing' };
    const ping = await pingRouter(this.options.router);
    if (ping && !ping.ok) return { status: 'unavailable', reason: ping.reason };
    return this.closing ? { status: 'unavailable', reason: 'broker closing' } : { status: 'ready' };
  }

  /** A `(req, res)` handler answering with `metrics()`, for a server of your own (the server of `listen` serves GET /metrics). */
  metricsHandler(): RequestHandler {
    return this.routes.metrics;
  }

  /** A `(req, res)` handler answering as `health()` says: 200 or 503, with JSON (the server of `listen` serves GET /healthz). */
  healthHandler(): RequestHandler {
    return this.routes.health;
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
    const server = createServer({ headersTimeout: headersTimeoutMs, requestTimeout: requestTimeoutMs, connectionsCheckingInterval: checkEvery }, (req, res) => {
      const route = operatorRoute(req, pathOf(req), this.routes);
      if (route) return route(req, res);
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
    this.departures.startHeartbeat();
    this.renewal.start();
  }

  /**
   * Cuts the socket holding `eva` without a close handshake, as a network failure would: its peers get
   * `lost` and its client reconnects. For operations and tests. Returns false when no socket holds `eva` here.
   */
  terminate(eva: string, role: Role = 'endpoint'): boolean {
    const conn = [...this.connections.values()].find((c) => c.state === 'ready' && c.role === role && c.eva === eva);
    if (!conn) return false;
    this.departures.cut(conn);
    return true;
  }

  /** Closes every socket (1001), stops every timer and, if `listen` started one, the HTTP server. Idempotent. */
  close(): Promise<void> {
    if (!this.closing) this.closing = this.shutDown();
    return this.closing;
  }

  /** Registered rpc sockets; counted at scrape time, not kept up to date on every register and close. */
  private rpcSocketCount(): number {
    let count = 0;
    for (const conn of this.connections.values()) if (conn.role === 'rpc' && conn.state === 'ready') count++;
    return count;
  }

  /** Open connections of this broker's endpoints: one between two of them appears in both, one to another broker in one. */
  private openConnectionCount(): number {
    let local = 0;
    let remote = 0;
    for (const conn of this.endpoints.values()) {
      local += conn.localPeerCount;
      remote += conn.remotePeerCount;
    }
    return local / 2 + remote;
  }

  private heldBackCount(): number {
    let count = 0;
    for (const conn of this.connections.values()) if (conn.heldBack) count++;
    return count;
  }

  private accept(socket: WebSocket, request: IncomingMessage): void {
    const conn = new ClientConnection(`${this.idPrefix}-${this.nextId++}`, socket, request, this.admission.clientOf(request));
    this.connections.set(conn.id, conn);
    this.sockets.add(socket);
    socket.on('error', (err) => log('socket %s error: %s', conn.id, err.message));
    socket.on('close', (code) => {
      this.sockets.delete(socket);
      this.departures.socketClosed(conn, code);
    });
    socket.on('pong', () => (conn.alive = true));
    socket.on('message', (data: Buffer, isBinary: boolean) => this.intake.frame(conn, data, isBinary));
    this.admission.admit(conn);
  }

  private async shutDown(): Promise<void> {
    this.departures.stop();
    this.renewal.stop();
    this.removeServerLimits?.();
    for (const { server, onUpgrade } of this.attached) server.off('upgrade', onUpgrade);
    const closed = [...this.sockets].map((socket) => new Promise<void>((resolve) => socket.once('close', () => resolve())));
    for (const conn of [...this.connections.values()]) this.departures.drop(conn, CloseCode.GOING_AWAY, 'broker shutting down');
    await Promise.all(closed);
    this.relay.stop();
    this.cluster.leave();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    await this.ownStore?.close();
    await this.options.cluster?.close();
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

/** The storage beneath a store made of RegistryRules over a RegistryStorage (the default ones, in memory or on Redis). */
function storageOf(store: RegistryStore): RegistryStorage | undefined {
  const storage = (store as { storage?: RegistryStorage }).storage;
  return storage && typeof storage.entryCount === 'function' ? storage : undefined;
}

/** The UTF-8 bytes of an eva; the last one is kept, since records from another broker come in runs from one sender. */
let lastEva = '';
let lastEvaBytes = Buffer.alloc(0);
function evaBytes(eva: string): Buffer {
  if (eva !== lastEva) {
    lastEva = eva;
    lastEvaBytes = Buffer.from(eva);
  }
  return lastEvaBytes;
}

function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

function rejectUpgrade(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

