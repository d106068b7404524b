import { createLogger } from '@vnf/core';
import { CloseCode, type ClientMessage } from '@vnf/protocol';
import type { Hello } from './Admission';
import type { BrokerCalls } from './BrokerCalls';
import type { ClientConnection } from './ClientConnection';
import type { ClusterLink } from './ClusterLink';
import type { ResolvedOptions } from './options';

const log = createLogger('broker');

/** What ControlDispatch needs of the broker: its sockets, where a hello goes, and ways to answer or close a socket. */
export interface ControlHost {
  /** Open sockets by id (the target of an open, as the router names it). */
  readonly connections: ReadonlyMap<string, ClientConnection>;
  /** Registered endpoint sockets of this broker by eva. */
  readonly endpoints: ReadonlyMap<string, ClientConnection>;
  /** The hello of a socket still waiting for it. */
  hello(conn: ClientConnection, hello: Hello): void;
  send(conn: ClientConnection, message: object): void;
  /** As `send`, for a control message already serialized. */
  sendText(conn: ClientConnection, json: string): void;
  sendError(conn: ClientConnection, code: string, message: string): void;
  drop(conn: ClientConnection, code: number, reason: string): void;
  /** `conn` defines (or redefines) its group `id` (Groups.define). */
  defineGroup(conn: ClientConnection, id: string, targets: readonly string[]): void;
  /** `conn` removes its group `id` (Groups.remove). */
  removeGroup(conn: ClientConnection, id: string): void;
}

/** Serialized once: every idle client's heartbeat is answered with it. */
const PONG = JSON.stringify({ t: 'pong' });

/**
 * The control messages a socket sends, in the order its state allows them: the hello first, then ping, call (bounded
 * by maxCallsInFlight), and, for endpoints, open (bounded by maxOpensInFlight, across brokers too), close, group
 * and ungroup.
 */
export class ControlDispatch {
  /** The end of a call's RATE_LIMITED refusal, after its id (the JSON of everything but the id). */
  private readonly callRefusal: string;

  constructor(
    private readonly options: Pick<ResolvedOptions, 'maxCallsInFlight' | 'maxOpensInFlight' | 'router'>,
    private readonly calls: BrokerCalls,
    private readonly cluster: ClusterLink,
    private readonly host: ControlHost,
  ) {
    const refusal = `More than ${options.maxCallsInFlight} calls in flight on this socket; wait for answers before calling again.`;
    this.callRefusal = `,"code":"RATE_LIMITED","message":${JSON.stringify(refusal)}}`;
  }

  control(conn: ClientConnection, message: ClientMessage): void {
    if (message.t === 'hello') {
      if (conn.state === 'hello') this.host.hello(conn, message);
      else this.host.sendError(conn, 'PROTOCOL', 'This socket already sent its hello; open another socket for another eva.');
      return;
    }
    if (conn.state === 'hello') {
      this.host.drop(conn, CloseCode.PROTOCOL, 'the first message must be a hello');
      return;
    }
    if (conn.state !== 'ready') {
      this.host.sendError(conn, 'PROTOCOL', `Wait for the welcome before sending "${message.t}".`);
      return;
    }
    switch (message.t) {
      case 'ping':
        // The client's own liveness check (browsers cannot send WebSocket pings); counted against the flood limit like any record.
        this.host.sendText(conn, PONG);
        return;
      case 'call':
        if (conn.callsInFlight >= this.options.maxCallsInFlight) {
          // Built from text made once: a frame of a thousand calls past the budget must cost little to refuse.
          this.host.sendText(conn, `{"t":"failure","id":${message.id}${this.callRefusal}`);
          return;
        }
        void this.calls.call(conn, message.id, message.method, message.params);
        return;
      case 'open':
        if (this.endpointOnly(conn, message.t)) {
          const to = message.to;
          if (conn.opensInFlight >= this.options.maxOpensInFlight) {
            this.host.send(conn, { t: 'refused', to, code: 'RATE_LIMITED', message: `More than ${this.options.maxOpensInFlight} opens in flight; wait for answers.` });
            return;
          }
          conn.opensInFlight++;
          this.open(conn, to)
            .catch((err: unknown) => {
              log('open %s -> %s failed: %s', conn.eva, to, String(err));
              this.host.send(conn, { t: 'refused', to, code: 'INTERNAL', message: 'The broker could not look up the target; retry later.' });
            })
            .finally(() => conn.opensInFlight--);
        }
        return;
      case 'close':
        if (this.endpointOnly(conn, message.t)) this.disconnect(conn, message.to);
        return;
      case 'group':
        if (this.endpointOnly(conn, message.t)) this.host.defineGroup(conn, message.id, message.targets);
        return;
      case 'ungroup':
        if (this.endpointOnly(conn, message.t)) this.host.removeGroup(conn, message.id);
        return;
    }
  }

  private endpointOnly(conn: ClientConnection, what: string): boolean {
    if (conn.role === 'endpoint') return true;
    this.host.sendError(conn, 'PROTOCOL', `An rpc socket cannot "${what}"; open an endpoint for connections and messages.`);
    return false;
  }

  private async open(conn: ClientConnection, to: string): Promise<void> {
    if (to === conn.eva) {
      this.host.send(conn, { t: 'refused', to, code: 'INVALID_ARGUMENT', message: 'An endpoint cannot connect to itself.' });
      return;
    }
    if (conn.peers.has(to) || conn.remotes.has(to)) {
      this.host.send(conn, { t: 'opened', to });
      return;
    }
    const holder = await this.options.router.lookup('endpoint', to);
    if (conn.state !== 'ready') return;
    if (holder && this.cluster.isRemote(holder)) {
      const accepted = await this.cluster.open(conn, to, holder);
      if (conn.state !== 'ready') return;
      if (accepted) this.host.send(conn, { t: 'opened', to });
      else this.host.send(conn, { t: 'refused', to, code: 'NOT_FOUND', message: `No endpoint "${to}" is registered with the broker. Check the eva, or retry once it is open.` });
      return;
    }
    const target = holder && this.host.connections.get(holder.id);
    if (!target || target.state !== 'ready') {
      this.host.send(conn, { t: 'refused', to, code: 'NOT_FOUND', message: `No endpoint "${to}" is registered with the broker. Check the eva, or retry once it is open.` });
      return;
    }
    conn.peers.add(to);
    if (!target.peers.has(conn.eva)) {
      target.peers.add(conn.eva);
      this.host.send(target, { t: 'accept', from: conn.eva });
    }
    this.host.send(conn, { t: 'opened', to });
  }

  private disconnect(conn: ClientConnection, to: string): void {
    if (this.cluster.disconnect(conn, to)) return;
    if (!conn.peers.delete(to)) return;
    const target = this.host.endpoints.get(to);
    if (target && target.peers.delete(conn.eva)) this.host.send(target, { t: 'lost', from: conn.eva });
  }
}
