import {
  AbstractEndpoint,
  ConnectionStatus,
  VnfError,
  createLogger,
  toUint8Array,
  validateWirePayload,
  type ConnectionEvent,
  type EndpointOptions,
  type Rpc,
} from '@vnf/core';
import { Channel, type ChannelHandler } from './channel';
import { EndpointRpc } from './EndpointRpc';
import { ENVELOPE_BYTES, type BrokerMessage } from '@vnf/protocol';
import { GroupCache } from './groupCache';
import { RpcCalls } from './rpcCalls';
import type { WebSocketFactory } from './WebSocketFactory';

/** A module constant: the send path must not go through the re-export's getter on every message. */
const ENVELOPE = ENVELOPE_BYTES;
/**
 * The share of the broker's control messages per second that group definitions may take: the rest stays for
 * opens, calls and pings, so multicasting to ever new lists never gets the socket closed for flooding.
 */
const DEFINITION_SHARE = 4;
/** Group definitions per second when the broker announces no control limit. */
const DEFAULT_DEFINITIONS_PER_SECOND = 500;

const log = createLogger('websocket-hub');

export interface WebSocketEndpointOptions extends EndpointOptions {
  /** The drain rule's marks (required here: the hub resolves them). */
  highWaterMark: number;
  lowWaterMark: number;
  /** Default timeout of calls on `getWebSocketRpc()`, ms. */
  callTimeoutMs: number;
  /** Resolves once every endpoint of the hub made its first registration attempt. */
  hubRegistered: () => Promise<void>;
}

/**
 * An endpoint of a WebSocketHub: one socket to the broker, registered under this eva.
 * When the socket drops it emits `offline`, reports every connection lost, reconnects with backoff,
 * proves with its session token that it is the same endpoint, and emits `online`.
 */
export class WebSocketEndpoint extends AbstractEndpoint {
  private readonly channel: Channel;
  private readonly opens = new Map<string, (event: ConnectionEvent) => void>();
  private readonly upWaiters = new Set<() => void>();
  private readonly highWaterMark: number;
  private readonly lowWaterMark: number;
  /** The current socket's broker groups; null when its broker offers none (or the socket is down). */
  private groups: GroupCache | null = null;
  private readonly callTimeoutMs: number;
  private readonly hubRegistered: () => Promise<void>;
  private wasOnline = false;
  private online = false;
  /** The calls of every `getWebSocketRpc()` Rpc still attached: each has its own pending calls and listeners. */
  private readonly rpcs = new Set<RpcCalls>();

  constructor(eva: string, factory: WebSocketFactory, options: WebSocketEndpointOptions) {
    super(eva, options);
    this.highWaterMark = options.highWaterMark;
    this.lowWaterMark = options.lowWaterMark;
    this.callTimeoutMs = options.callTimeoutMs;
    this.hubRegistered = options.hubRegistered;
    this.getWebSocketRpc = this.getWebSocketRpc.bind(this);
    const handler: ChannelHandler = {
      onUp: () => this.channelUp(),
      onDown: () => this.channelDown(),
      onFatal: (error) => this.channelFailed(error),
      onControl: (message) => this.control(message),
      onData: (source, payload) => this.deliver(source, payload),
      // One socket carries every connection: its buffer draining is every owed peer's drain.
      onDrain: () => this.checkDrain(),
      onError: (error) => this.reportError(error),
    };
    this.channel = new Channel(factory, 'endpoint', eva, handler);
    this.channel.start();
  }

  /** Resolves once the first registration attempt succeeded or failed. */
  get firstAttempt(): Promise<void> {
    return this.channel.firstAttempt;
  }

  /** True while the socket is registered with the broker. */
  get isOnline(): boolean {
    return this.online;
  }

  /**
   * A new Rpc sharing this endpoint's socket; the broker sees this endpoint's eva as its owner. Each call
   * returns its own Rpc (own pending calls and listeners), so closing one leaves the others working.
   */
  getWebSocketRpc(): Rpc {
    this.assertAlive('getWebSocketRpc');
    const calls = new RpcCalls(this.channel, this.eva, this.callTimeoutMs, this);
    this.rpcs.add(calls);
    return new EndpointRpc(this.eva, calls, () => this.rpcs.delete(calls));
  }

  protected override queuedBytes(targetEva: string): number {
    return this.hasConnection(targetEva) ? this.channel.bufferedAmount() : 0;
  }

  /** Resolves when the socket has closed after `destroy()`. */
  closed(): Promise<void> {
    return this.channel.close();
  }

  protected override validatePayload(message: unknown): void {
    validateWirePayload(message, Math.min(this.maxPayloadSize, this.channel.maxFrame - ENVELOPE));
  }

  protected async connect(targetEva: string, signal: AbortSignal): Promise<ConnectionEvent> {
    // Endpoints opened together (as in the seed) must all be registered before one connects to another.
    await this.hubRegistered();
    const failed = await this.waitUp(signal);
    if (failed) return { status: ConnectionStatus.FAILED, targetEva, reason: failed };
    return new Promise((resolve) => {
      const settle = (event: ConnectionEvent): void => {
        if (this.opens.get(targetEva) === settle) this.opens.delete(targetEva);
        resolve(event);
      };
      this.opens.set(targetEva, settle);
      signal.addEventListener('abort', () => settle({ status: ConnectionStatus.FAILED, targetEva, reason: 'ABORTED' }));
      this.channel.sendControl({ t: 'open', to: targetEva });
    });
  }

  protected disconnect(targetEva: string): void {
    this.channel.sendControl({ t: 'close', to: targetEva });
  }

  protected transmit(targetEva: string, message: unknown): void {
    this.channel.sendData(targetEva, typeof message === 'string' ? message : toUint8Array(message as Uint8Array | ArrayBuffer));
  }

  /**
   * A multicast leaves the socket once, whatever the number of targets: the broker's group of these targets (defined
   * first, in order, and remembered for this socket) gets one record, and the broker copies it to each. Without
   * groups (a broker predating them, or its definitions budget spent), and for a single target, one record per target.
   */
  protected override transmitToMany(targets: readonly string[], message: unknown): void {
    const groups = this.groups;
    if (groups === null || targets.length < 2) {
      super.transmitToMany(targets, message);
      return;
    }
    // Every target's buffer is this one socket's: past highWaterMark the default would skip each of them, so all.
    if (this.channel.bufferedAmount() > this.highWaterMark) {
      log('%s multicast skipped: %d bytes buffered on the socket', this.eva, this.channel.bufferedAmount());
      return;
    }
    const payload = typeof message === 'string' ? message : toUint8Array(message as Uint8Array | ArrayBuffer);
    const maxTargets = groups.maxTargets;
    for (let start = 0; start < targets.length; start += maxTargets) {
      const part = targets.length <= maxTargets ? targets : targets.slice(start, start + maxTargets);
      if (part.length === 1) {
        this.channel.sendData(part[0], payload);
        continue;
      }
      let id = groups.find(part);
      if (id === null) {
        const added = groups.add(part, Date.now());
        if (added === null) {
          for (const target of part) this.channel.sendData(target, payload);
          continue;
        }
        // Queued just before the record, in the same batch: the broker reads the definition first.
        this.channel.sendControlText(added.definition);
        id = added.id;
      }
      this.channel.sendGroupData(id, payload);
    }
  }

  /** The socket's buffer passed highWaterMark: watch it fall to lowWaterMark (write callbacks in Node, a poll in browsers). */
  protected override drainDue(): void {
    this.channel.watchDrain(this.lowWaterMark);
  }

  protected teardown(): void {
    this.settleOpens('DESTROYED');
    this.wakeUpWaiters();
    for (const calls of this.rpcs) calls.destroy();
    this.rpcs.clear();
    void this.channel.close();
  }

  /** Resolves undefined once the socket is registered, or the reason it cannot be. */
  private waitUp(signal: AbortSignal): Promise<string | undefined> {
    return new Promise((resolve) => {
      const check = (): boolean => {
        if (this.destroyed) resolve('DESTROYED');
        else if (signal.aborted) resolve('ABORTED');
        else if (this.channel.state === 'failed') resolve(this.channel.fatalError?.code ?? 'UNAVAILABLE');
        else if (this.channel.state === 'up') resolve(undefined);
        else return false;
        return true;
      };
      if (check()) return;
      const waiter = (): void => {
        if (check()) {
          this.upWaiters.delete(waiter);
          signal.removeEventListener('abort', waiter);
        }
      };
      this.upWaiters.add(waiter);
      signal.addEventListener('abort', waiter);
    });
  }

  private channelUp(): void {
    this.online = true;
    // A new socket holds no groups: its broker (perhaps another, or restarted) knows none of the last one's.
    const offer = this.channel.groups;
    const perSecond = Math.floor((this.channel.limits.controlPerSecond ?? DEFAULT_DEFINITIONS_PER_SECOND * DEFINITION_SHARE) / DEFINITION_SHARE);
    this.groups = offer && perSecond > 0 ? new GroupCache(offer, perSecond) : null;
    this.wakeUpWaiters();
    for (const calls of [...this.rpcs]) calls.up();
    if (this.wasOnline) this.emitSafely('online');
    this.wasOnline = true;
  }

  private channelDown(): void {
    const wasOnline = this.online;
    this.online = false;
    this.groups = null;
    this.settleOpens('UNAVAILABLE');
    for (const calls of [...this.rpcs]) calls.down();
    if (!wasOnline) return;
    this.emitSafely('offline');
    for (const peer of this.connections()) this.connectionLost(peer);
  }

  private channelFailed(error: VnfError): void {
    this.settleOpens(error.code);
    this.wakeUpWaiters();
    for (const calls of [...this.rpcs]) calls.fatal(error);
    this.reportError(error);
  }

  private control(message: BrokerMessage): void {
    switch (message.t) {
      case 'opened': {
        const settle = this.opens.get(message.to);
        if (settle) {
          // Connected now, not when the connect promise settles a few microtasks later: the target's first
          // message may arrive in the same read as `opened`, and deliver() drops messages of unconnected peers.
          this.acceptConnection(message.to);
          settle({ status: ConnectionStatus.CONNECTED, targetEva: message.to });
        }
        // We gave up waiting (timeout) before the broker answered: undo the connection it made.
        else if (!this.hasConnection(message.to)) this.channel.sendControl({ t: 'close', to: message.to });
        return;
      }
      case 'refused':
        this.opens.get(message.to)?.({ status: ConnectionStatus.FAILED, targetEva: message.to, reason: message.code });
        return;
      case 'accept':
        this.acceptConnection(message.from);
        return;
      case 'lost':
        this.connectionLost(message.from);
        return;
      case 'error':
        if (typeof message.group === 'string') this.groups?.forget(message.group);
        this.reportError(new VnfError(message.code as VnfError['code'], `The broker reported: ${message.message}`));
        return;
      default:
        // Call ids are unique on the socket, so only the Rpc that made a call settles it; notifications go to every Rpc.
        for (const calls of [...this.rpcs]) calls.handleControl(message);
    }
  }

  private settleOpens(reason: string): void {
    for (const [targetEva, settle] of [...this.opens]) settle({ status: ConnectionStatus.FAILED, targetEva, reason });
  }

  private wakeUpWaiters(): void {
    for (const waiter of [...this.upWaiters]) waiter();
  }
}
