import type { IncomingMessage } from 'node:http';
import { randomBytes } from 'node:crypto';
import { createLogger } from '@vnf/core';
import { CloseCode, PROTOCOL_VERSION, type ClientMessage } from '@vnf/protocol';
import type { BrokerCalls } from './BrokerCalls';
import type { ClientBudgets } from './ClientBudgets';
import type { ClientConnection } from './ClientConnection';
import type { ClusterLink } from './ClusterLink';
import { groupOffer } from './Groups';
import { forwardedAddress, type ResolvedOptions } from './options';

const UTF8 = new TextEncoder();

const log = createLogger('broker');

export type Hello = Extract<ClientMessage, { t: 'hello' }>;

/** What Admission needs of the broker: its sockets, somewhere to put a registered endpoint, and the ways a socket leaves. */
export interface AdmissionHost {
  /** This broker's node id (the prefix of its socket ids). */
  readonly node: string;
  /** Open sockets by id (a reconnect's predecessor, if still live here). */
  readonly connections: ReadonlyMap<string, ClientConnection>;
  /** Registered endpoint sockets of this broker by eva: a registered endpoint joins them. */
  readonly endpoints: Map<string, ClientConnection>;
  send(conn: ClientConnection, message: object): void;
  drop(conn: ClientConnection, code: number, reason: string): void;
  /** Frees the eva `conn` claimed and closes its registry session. */
  release(conn: ClientConnection): void;
  /** Ends the grace reservation of socket `id` (a reconnect proved its session) and hands it back; undefined when none. */
  reclaim(id: string): ClientConnection | undefined;
}

/**
 * Who gets in, and as which eva: a new socket is checked against `allowedOrigins` and its client's pending budget and
 * must say hello in time; the hello is authenticated, its eva claimed from the router (a reconnect with its session
 * token takes over, here or on another broker) and counted against the client's evas, then welcomed.
 */
export class Admission {
  constructor(
    private readonly options: ResolvedOptions,
    private readonly budgets: ClientBudgets,
    private readonly calls: BrokerCalls,
    private readonly cluster: ClusterLink,
    private readonly host: AdmissionHost,
  ) {}

  /** The budget key of a request: the user's clientKey, or the (forwarded) remote address. Never throws. */
  clientOf(request: IncomingMessage): string {
    try {
      const key = this.options.clientKey(request);
      if (typeof key === 'string' && key.length > 0) return key;
      log('clientKey returned %s; counting the request by its address', typeof key);
    } catch (err) {
      log('clientKey threw (%s); counting the request by its address', String(err));
    }
    return forwardedAddress(request, this.options.trustProxy);
  }

  /** A new socket: refused when its origin is not allowed or its client has too many pending; else it must say hello in time. */
  admit(conn: ClientConnection): void {
    const origin = conn.origin;
    if (this.options.allowedOrigins && origin !== undefined && !this.options.allowedOrigins.has(origin)) {
      this.host.drop(conn, CloseCode.UNAUTHORIZED, 'origin not allowed');
      return;
    }
    if (!this.budgets.take(conn.client, 'pending')) {
      this.host.drop(conn, CloseCode.CLIENT_LIMIT, 'too many sockets from this client');
      return;
    }
    conn.holds = 'pending';
    conn.helloTimer = setTimeout(() => this.host.drop(conn, CloseCode.HELLO_TIMEOUT, 'no hello in time'), this.options.helloTimeoutMs);
  }

  /** The hello of a socket in state `hello`: registers it, or closes it. */
  hello(conn: ClientConnection, hello: Hello): void {
    this.register(conn, hello).catch((err: unknown) => this.failed(conn, 'registering', err));
  }

  private async register(conn: ClientConnection, hello: Hello): Promise<void> {
    if (conn.helloTimer) clearTimeout(conn.helloTimer);
    conn.helloTimer = null;
    if (hello.v !== PROTOCOL_VERSION) {
      this.host.drop(conn, CloseCode.VERSION, `this broker speaks protocol version ${PROTOCOL_VERSION}`);
      return;
    }
    conn.state = 'claiming';
    if (this.options.authorize) conn.auth = hello.auth;
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
      this.host.drop(conn, CloseCode.UNAUTHORIZED, 'authentication failed');
      return;
    }
    const holder = { id: conn.id, node: this.host.node, session: newSessionToken() };
    const claim = await this.options.router.claim(hello.role, hello.eva, holder, hello.session, this.options.claimTtlMs);
    if (conn.closed) {
      // The socket went while claiming. A takeover still ends its predecessor, which the router no longer lists:
      // one live socket per eva, and it is the router's holder (here: none; the client reconnects with its token).
      if (claim.outcome === 'replaced') {
        if (this.cluster.isRemote(claim.previous)) this.cluster.takeOver(claim.previous);
        const live = this.host.connections.get(claim.previous.id);
        if (live) this.host.drop(live, CloseCode.TAKEN_OVER, 'taken over by a reconnect');
      }
      if (claim.outcome !== 'in-use') await this.options.router.release(hello.role, hello.eva, conn.id);
      return;
    }
    if (claim.outcome === 'in-use') {
      this.host.drop(conn, CloseCode.EVA_IN_USE, 'eva in use');
      return;
    }
    if (claim.outcome === 'replaced' && this.cluster.isRemote(claim.previous)) this.cluster.takeOver(claim.previous);
    if (claim.outcome === 'replaced') {
      const live = this.host.connections.get(claim.previous.id);
      if (live) {
        // Not noticed dead yet (a blip): its registry session passes to the new socket before it closes.
        if (live.state === 'ready') this.calls.adoptRegistry(conn, live, hello.eva);
        this.host.drop(live, CloseCode.TAKEN_OVER, 'taken over by a reconnect');
      }
    }
    this.budgets.give(conn.client, 'pending');
    conn.holds = null;
    let previous: ClientConnection | undefined;
    if (claim.outcome === 'replaced') {
      previous = this.host.reclaim(claim.previous.id);
      if (previous) this.budgets.give(previous.client, 'evas');
    }
    if (!this.budgets.take(conn.client, 'evas')) {
      // Frees the claim and any registry session adopted above; a reserved predecessor's unit went back already.
      conn.role = hello.role;
      conn.eva = hello.eva;
      this.host.release(conn);
      if (previous) this.host.release(previous);
      this.host.drop(conn, CloseCode.CLIENT_LIMIT, 'too many evas from this client');
      return;
    }
    conn.holds = 'evas';
    conn.role = hello.role;
    conn.eva = hello.eva;
    // Not Buffer.from: a small Buffer is a slice of a shared 8 KiB slab, and this long-lived one would keep alive a
    // slab otherwise filled by short-lived frames (measured: about 1 KiB per idle endpoint).
    conn.evaBytes = UTF8.encode(hello.eva);
    conn.state = 'ready';
    if (conn.role === 'endpoint') this.host.endpoints.set(conn.eva, conn);
    // A reconnect within the grace keeps what the session held: its registry entries stay, its watches restart.
    if (previous) this.calls.adoptRegistry(conn, previous);
    log('%s registered %s %s (%s)', conn.id, conn.role, conn.eva, claim.outcome);
    this.host.send(conn, {
      t: 'welcome',
      session: claim.session,
      maxFrame: this.options.maxPayload,
      limits: limitsOf(this.options),
      groups: groupOffer(this.options),
    });
  }

  /** The router or store failed (a Redis outage, say): the socket is closed, never the broker. */
  private failed(conn: ClientConnection, what: string, err: unknown): void {
    log('%s failed while %s: %s', conn.id, what, String(err));
    this.host.drop(conn, CloseCode.INTERNAL, 'broker error; retry later');
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
