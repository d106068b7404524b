import { VnfError, createLogger } from '@vnf/core';
import { REGISTRY_RESYNC_NOTIFICATION, REGISTRY_WAITED_NOTIFICATION, RawJson, RegistryService, type WatchBudget } from '@vnf/registry';
import type { ClientBudgets } from './ClientBudgets';
import type { ClientConnection } from './ClientConnection';
import type { ResolvedOptions } from './options';

const log = createLogger('broker:calls');
/** Bytes of a list reply besides its entries: `{"t":"result","id":…,"result":{"entries":[…],"next":"…"}}`. */
const REPLY_ENVELOPE_BYTES = 2048;
/** How often a lagging watcher's socket is checked for having drained (then it gets its resync). */
const LAG_POLL_MS = 25;

/** What BrokerCalls needs of the broker: a way to queue control messages toward a socket. */
export interface CallsHost {
  send(conn: ClientConnection, message: object): void;
  /** As `send`, for a control message already serialized. */
  sendText(conn: ClientConnection, json: string): void;
  /** A reply of `bytes` went to `conn`: counted against its client's reply budget. */
  replied(conn: ClientConnection, bytes: number): void;
  /** `conn` opened its registry session (its owner's entries get a lease on shared storage). */
  sessionOpened(conn: ClientConnection): void;
}

/**
 * The broker's RPC: registry sessions (their watches counted against the client's budget, their notifications
 * dropped while the socket lags) and the operator's methods; every reply bounded by maxReplyBytes.
 */
export class BrokerCalls {
  private readonly registry: RegistryService;

  constructor(
    private readonly options: ResolvedOptions,
    private readonly budgets: ClientBudgets,
    private readonly host: CallsHost,
  ) {
    this.registry = new RegistryService(options.registryStore, {
      // Room for the reply's envelope: the call id, and the next page's name (JSON-escaped).
      maxReplyBytes: options.maxReplyBytes - REPLY_ENVELOPE_BYTES,
      ...(options.authorize && { authorize: options.authorize }),
    });
  }

  /** Handles one call (the caller checked maxCallsInFlight) and queues its reply. */
  async call(conn: ClientConnection, id: number, method: string, params: unknown): Promise<void> {
    conn.callsInFlight++;
    try {
      const text = await this.answer(conn, id, method, params);
      if (conn.state === 'ready') {
        this.host.sendText(conn, text);
        this.host.replied(conn, text.length);
      }
    } finally {
      conn.callsInFlight--;
    }
  }

  /** The JSON text of the reply to one call: its result, or a failure (TOO_LARGE past maxReplyBytes). */
  private async answer(conn: ClientConnection, id: number, method: string, params: unknown): Promise<string> {
    let reply: object;
    try {
      let result: unknown;
      if (this.registry.handles(method)) {
        result = await this.registrySession(conn).handle(method, params);
      } else {
        const handler = this.options.methods.get(method);
        if (!handler) throw new VnfError('NOT_FOUND', `The broker has no RPC method "${method}". Check the name and the broker's version.`);
        result = await handler(params, {
          eva: conn.eva,
          role: conn.role,
          origin: conn.origin,
          remoteAddress: conn.remoteAddress,
          client: conn.client,
        });
      }
      const text = result instanceof RawJson ? `{"t":"result","id":${id},"result":${result.json}}` : JSON.stringify({ t: 'result', id, result: result ?? null });
      // Serialized once, and counted only when it could be too large (n UTF-16 units take at most 3n bytes).
      if (text.length * 3 <= this.options.maxReplyBytes) return text;
      const bytes = Buffer.byteLength(text);
      if (bytes <= this.options.maxReplyBytes) return text;
      reply = {
        t: 'failure',
        id,
        code: 'TOO_LARGE',
        message: `The reply to ${method} would take ${bytes} bytes, more than the broker's maxReplyBytes (${this.options.maxReplyBytes}). Ask for less.`,
      };
    } catch (err) {
      reply = VnfError.is(err)
        ? { t: 'failure', id, code: err.code, message: err.message }
        : { t: 'failure', id, code: 'INTERNAL', message: `The broker failed to handle ${method}; see its log.` };
      if (!VnfError.is(err)) log('rpc %s from %s failed: %s', method, conn.eva, String(err));
    }
    return JSON.stringify(reply);
  }

  /** The socket's registry session, opened on its first registry call, its watches counted against its client. */
  private registrySession(conn: ClientConnection): NonNullable<ClientConnection['registry']> {
    if (conn.registry) return conn.registry;
    const budgets = this.budgets;
    const client = conn.client;
    const watchBudget: WatchBudget = {
      limit: budgets.limitOf('watches'),
      take: () => budgets.take(client, 'watches'),
      give: () => budgets.give(client, 'watches'),
    };
    conn.registry = this.registry.openSession(conn.eva, (notification, json) => this.notify(conn, notification, json), {
      watchBudget,
      // A lagging socket drops every notification until its resync: its watches need not even build them.
      accepting: () => conn.state === 'ready' && conn.lagTimer === null,
      subject: { role: conn.role, auth: conn.auth, remoteAddress: conn.remoteAddress },
    });
    this.host.sessionOpened(conn);
    return conn.registry;
  }

  /**
   * Pushes a registry notification, unless the socket lags or its client passed its fan-out budget: then
   * notifications are dropped (never a slow-consumer close for an honest watcher) and, once the socket drained below
   * half of watchLagBytes and the client's budget has room again, one resync tells the client that its watches may
   * have missed changes.
   */
  private notify(conn: ClientConnection, method: string, paramsJson: string): boolean {
    if (conn.state !== 'ready') return false;
    const text = `{"t":"notify","method":${JSON.stringify(method)},"params":${paramsJson}}`;
    // The outcome of a waiting write is never dropped, lagging or not: nothing else would tell it (and a channel has at
    // most maxWaitsPerSession of them).
    if (method === REGISTRY_WAITED_NOTIFICATION) {
      this.host.sendText(conn, text);
      return true;
    }
    if (conn.lagTimer) return false;
    const now = Date.now();
    if (conn.pendingBytes <= this.options.watchLagBytes && this.budgets.withinNotifyRate(conn.client, text.length, now)) {
      this.host.sendText(conn, text);
      return true;
    }
    log('%s lags behind its registry notifications, or its client passed its fan-out budget; dropping them', conn.id);
    conn.lagTimer = setInterval(() => {
      if (conn.state !== 'ready' || conn.pendingBytes > this.options.watchLagBytes / 2 || !this.budgets.notifyRoom(conn.client, Date.now())) return;
      if (conn.lagTimer) clearInterval(conn.lagTimer);
      conn.lagTimer = null;
      this.host.send(conn, { t: 'notify', method: REGISTRY_RESYNC_NOTIFICATION, params: {} });
    }, LAG_POLL_MS);
    return false;
  }

  /**
   * Gives `conn` the registry session of `previous` (a socket of the same session it replaces): `conn` opens its own
   * session first, so closing the previous one never removes the entries they share.
   */
  adoptRegistry(conn: ClientConnection, previous: ClientConnection, eva = conn.eva): void {
    const old = previous.registry;
    previous.registry = null;
    if (!old) return;
    if (!conn.registry) {
      conn.eva ||= eva;
      this.registrySession(conn);
    }
    old.close().catch((err: unknown) => log('closing the registry session of %s failed: %s', eva, String(err)));
  }
}
