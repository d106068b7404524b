import { EventEmitter } from 'eventemitter3';
import { ConnectionStatus } from './status';
import { VnfError } from './errors';
import { validateEva } from './eva';
import { validateWirePayload } from './payload';
import { createLogger } from './log';
import { callUserListener, callUserListenerWith } from './listeners';
import type { ConnectionEvent, Endpoint, EndpointEvents, MessageEvent } from './contract';

const log = createLogger('endpoint');

/** Options every endpoint shares. */
export interface EndpointOptions {
  /** How long `openConnection` waits before it ends in TIMEOUT. Default 10 000 ms. */
  connectTimeoutMs?: number;
  /** Largest payload `send` accepts, in bytes. Default: unbounded. */
  maxPayloadSize?: number;
  /** Called once when the endpoint is destroyed (the hub frees the eva). */
  onDestroyed?: (endpoint: AbstractEndpoint) => void;
  /**
   * The drain rule's marks (docs/design.md, Backpressure): once `bufferedAmount(peer)` passed `highWaterMark`,
   * `drain(peer)` fires once when it falls to at most `lowWaterMark`. Default: no drain (Infinity and 0).
   */
  highWaterMark?: number;
  lowWaterMark?: number;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/**
 * The rules of docs/design.md, The contract, in one place: connection bookkeeping, exactly-once callbacks and
 * lost-events, NOT_CONNECTED/DESTROYED checks, timeouts and listener-error handling.
 * A hub implements only its transport: `connect`, `disconnect`, `transmit`, `teardown`,
 * and calls `acceptConnection`, `connectionLost` and `deliver` as its transport reports.
 */
export abstract class AbstractEndpoint extends EventEmitter<EndpointEvents> implements Endpoint {
  readonly eva: string;
  onMessage: ((event: MessageEvent<any>) => void) | null = null;
  protected readonly connectTimeoutMs: number;
  protected readonly maxPayloadSize: number;
  private readonly connected = new Set<string>();
  private readonly pending = new Map<string, { promise: Promise<ConnectionEvent>; abort: AbortController }>();
  private readonly onDestroyed?: (endpoint: AbstractEndpoint) => void;
  private isDestroyed = false;
  /** `highWaterMark` of the drain rule (Infinity: this endpoint never owes a drain). */
  protected readonly drainHigh: number;
  private readonly drainLow: number;
  /** Grows whenever a connection opens or closes: what a cached multicast list was filtered against. */
  private connectionsVersion = 0;
  private multicastCache: { targets: readonly string[]; version: number; connected: readonly string[] } | null = null;
  /** Peers whose buffer passed highWaterMark since the last `drain`: each is owed one. */
  private readonly drainOwed = new Set<string>();

  constructor(eva: string, options: EndpointOptions = {}) {
    super();
    validateEva(eva);
    const timeout = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    if (!(timeout > 0)) throw new VnfError('INVALID_ARGUMENT', `connectTimeoutMs must be a positive number; got ${timeout}.`);
    this.eva = eva;
    this.connectTimeoutMs = timeout;
    this.maxPayloadSize = options.maxPayloadSize ?? Infinity;
    this.onDestroyed = options.onDestroyed;
    this.drainHigh = options.highWaterMark ?? Infinity;
    this.drainLow = options.lowWaterMark ?? 0;
    if (!(this.drainLow < this.drainHigh)) {
      throw new VnfError('INVALID_ARGUMENT', `lowWaterMark (${this.drainLow}) must be below highWaterMark (${this.drainHigh}).`);
    }
    // Public methods work unbound (`endpoint.send.bind(null, …)`, passing `endpoint.send` as a callback).
    this.openConnection = this.openConnection.bind(this);
    this.send = this.send.bind(this);
    this.multicast = this.multicast.bind(this);
    this.closeConnection = this.closeConnection.bind(this);
    this.destroy = this.destroy.bind(this);
    this.onConnectionLost = this.onConnectionLost.bind(this);
  }

  get destroyed(): boolean {
    return this.isDestroyed;
  }

  connections(): string[] {
    this.assertAlive('connections');
    return [...this.connected];
  }

  isConnected(eva: string): boolean {
    this.assertAlive('isConnected');
    return this.connected.has(eva);
  }

  bufferedAmount(targetEva: string): number {
    this.assertAlive('bufferedAmount');
    return this.queuedBytes(targetEva);
  }

  onConnectionLost(listener: (targetEva: string) => void): void {
    this.assertAlive('onConnectionLost');
    if (typeof listener !== 'function') throw new VnfError('INVALID_ARGUMENT', 'onConnectionLost takes a function.');
    this.on('connectionLost', listener);
  }

  openConnection(targetEva: string, cb?: (event: ConnectionEvent) => void): Promise<ConnectionEvent> {
    this.assertAlive('openConnection');
    validateEva(targetEva, 'targetEva');
    if (cb !== undefined && typeof cb !== 'function') {
      throw new VnfError('INVALID_ARGUMENT', 'The openConnection callback must be a function when given.');
    }
    let result: Promise<ConnectionEvent>;
    if (targetEva === this.eva) {
      result = Promise.resolve({ status: ConnectionStatus.FAILED, targetEva, reason: 'SELF' });
    } else if (this.connected.has(targetEva)) {
      result = Promise.resolve({ status: ConnectionStatus.CONNECTED, targetEva });
    } else {
      result = this.pending.get(targetEva)?.promise ?? this.startConnect(targetEva);
    }
    return result.then((event) => {
      // Each caller gets its own copy, so one caller mutating the event cannot affect another.
      const own = { ...event };
      if (cb) this.callListener(() => cb(own));
      return own;
    });
  }

  send(targetEva: string, message: unknown): void {
    this.assertAlive('send');
    if (!this.connected.has(targetEva)) {
      throw new VnfError(
        'NOT_CONNECTED',
        `${this.eva} has no open connection to ${String(targetEva)}. Call openConnection and wait for CONNECTED ` +
          '(or for the peer to connect to you) before sending; the connection may also have been lost.',
        { details: { eva: this.eva, targetEva } },
      );
    }
    this.validatePayload(message);
    this.transmit(targetEva, message);
    if (this.drainHigh !== Infinity && !this.drainOwed.has(targetEva) && this.queuedBytes(targetEva) > this.drainHigh) {
      this.drainOwed.add(targetEva);
      this.drainDue(targetEva);
    }
  }

  multicast(targets: readonly string[], message: unknown): void {
    this.assertAlive('multicast');
    if (!Array.isArray(targets)) {
      throw new VnfError('INVALID_ARGUMENT', `multicast takes an array of target evas; got ${typeof targets}.`);
    }
    this.validatePayload(message);
    const connected = this.connectedTargets(targets);
    if (connected.length === 0) return;
    this.transmitToMany(connected, message);
    if (this.drainHigh === Infinity) return;
    // As after a send: a target whose buffer is now past the high mark is owed a drain, so a sender pacing on it wakes.
    for (const target of connected) {
      if (!this.drainOwed.has(target) && this.queuedBytes(target) > this.drainHigh) {
        this.drainOwed.add(target);
        this.drainDue(target);
      }
    }
  }

  closeConnection(targetEva: string): void {
    this.assertAlive('closeConnection');
    if (!this.connected.delete(targetEva)) return;
    this.connectionsVersion++;
    this.drainOwed.delete(targetEva);
    this.disconnect(targetEva);
  }

  destroy(): void {
    if (this.isDestroyed) return;
    this.isDestroyed = true;
    for (const { abort } of this.pending.values()) abort.abort();
    const peers = [...this.connected];
    this.connected.clear();
    this.connectionsVersion++;
    this.multicastCache = null;
    try {
      this.teardown(peers);
    } finally {
      this.onDestroyed?.(this);
      this.removeAllListeners();
      this.onMessage = null;
    }
  }

  /**
   * The targets of a multicast this endpoint is connected to, each once, in the order given. A list multicast to
   * again (a room's members, frozen or not) is filtered once per change of the connections, not at each call: a
   * frozen list is known by identity, any other by its contents (a copy of it is kept, so a list changed in place
   * since is filtered anew).
   */
  private connectedTargets(targets: readonly string[]): readonly string[] {
    const cache = this.multicastCache;
    if (cache !== null && cache.version === this.connectionsVersion && (cache.targets === targets || sameTargets(cache.targets, targets))) return cache.connected;
    const connected: string[] = [];
    const seen = targets.length > 8 ? new Set<string>() : null;
    for (let i = 0; i < targets.length; i++) {
      const target = targets[i];
      if (typeof target !== 'string') {
        throw new VnfError('INVALID_ARGUMENT', `multicast targets must be evas (strings); item ${i} is ${typeof target}.`);
      }
      if (!this.connected.has(target)) continue;
      // A duplicate in the list must not mean a duplicate delivery.
      if (seen !== null) {
        if (seen.has(target)) continue;
        seen.add(target);
      } else if (connected.includes(target)) continue;
      connected.push(target);
    }
    this.multicastCache = { targets: Object.isFrozen(targets) ? targets : Object.freeze(targets.slice()), version: this.connectionsVersion, connected };
    return connected;
  }

  // ---- for subclasses -------------------------------------------------------------------------

  /** Opens the transport connection. Resolve CONNECTED or a failure; watch `signal` (aborted on timeout or destroy). */
  protected abstract connect(targetEva: string, signal: AbortSignal): Promise<ConnectionEvent>;
  /** Tells the peer the connection is closed (it must get `connectionLost`). */
  protected abstract disconnect(targetEva: string): void;
  /** Carries an already-validated message to a connected peer. */
  protected abstract transmit(targetEva: string, message: unknown): void;
  /** Releases every resource; `peers` were connected and must be told the connection is gone. */
  protected abstract teardown(peers: string[]): void;

  /**
   * Carries an already-validated message to each of `targets` (connected, distinct). By default one `transmit`
   * each, skipping a target whose buffer is past highWaterMark or that refuses it (BUFFER_FULL): a slow target
   * misses the message, the others never wait for it. A transport that can fan out (the broker) overrides this.
   */
  protected transmitToMany(targets: readonly string[], message: unknown): void {
    for (const target of targets) {
      if (this.queuedBytes(target) > this.drainHigh) continue;
      try {
        this.transmit(target, message);
      } catch (err) {
        if (!(err instanceof VnfError) || (err.code !== 'BUFFER_FULL' && err.code !== 'NOT_CONNECTED')) throw err;
        log('%s multicast skipped %s: %s', this.eva, target, err.code);
      }
    }
  }

  /** What `bufferedAmount` reports while the endpoint is alive: bytes this layer and those beneath it still hold. */
  protected queuedBytes(_targetEva: string): number {
    return 0;
  }

  /**
   * The layer's buffer toward `peerEva` (or toward every peer) shrank: its own queue moved on, or the layer beneath
   * drained. Emits the `drain` owed to a peer whose buffer passed highWaterMark, once it is at most lowWaterMark.
   */
  protected checkDrain(peerEva?: string): void {
    if (this.drainOwed.size === 0 || this.isDestroyed) return;
    for (const peer of peerEva === undefined ? [...this.drainOwed] : [peerEva]) {
      if (!this.drainOwed.has(peer) || !this.drained(peer, this.drainLow)) continue;
      this.drainOwed.delete(peer);
      this.emitSafely('drain', peer);
    }
  }

  /** A send toward `peerEva` was refused for a limit of the layer's own (BUFFER_FULL): it owes a `drain` too. */
  protected oweDrain(peerEva: string): void {
    if (!this.connected.has(peerEva) || this.drainOwed.has(peerEva)) return;
    this.drainOwed.add(peerEva);
    this.drainDue(peerEva);
  }

  /**
   * A `drain` toward `peerEva` became owed. A layer that must ask for its low-water signal (a write callback, a
   * poll) starts watching here, once per owed drain, instead of checking its buffer after every send.
   */
  protected drainDue(_peerEva: string): void {
    // Most layers learn of progress by themselves and call checkDrain.
  }

  /** Whether an owed `drain` toward `peerEva` is due: the buffer is at most `lowWaterMark`. A layer with other limits adds them. */
  protected drained(peerEva: string, lowWaterMark: number): boolean {
    return this.queuedBytes(peerEva) <= lowWaterMark;
  }

  /** `isConnected` for the layer's own code: never throws, false once destroyed. */
  protected hasConnection(eva: string): boolean {
    return this.connected.has(eva);
  }

  /** The payload rule of this layer. Wire hubs carry strings and binary; decorators may widen it. */
  protected validatePayload(message: unknown): void {
    validateWirePayload(message, this.maxPayloadSize);
  }

  /** The transport reports a connection opened by the peer (implicit accept), or one restored. */
  protected acceptConnection(peerEva: string): void {
    if (this.isDestroyed || this.connected.has(peerEva)) return;
    this.connected.add(peerEva);
    this.connectionsVersion++;
    this.emitSafely('connection', peerEva);
  }

  /** The transport reports a connection gone. Emits `connectionLost` once, only if it was open. */
  protected connectionLost(peerEva: string): void {
    if (this.isDestroyed || !this.connected.delete(peerEva)) return;
    this.connectionsVersion++;
    this.drainOwed.delete(peerEva);
    log('%s lost connection to %s', this.eva, peerEva);
    this.emitSafely('connectionLost', peerEva);
  }

  /** Hands a received message to the application; messages from evas not connected are dropped. */
  protected deliver(sourceEva: string, message: unknown): void {
    if (this.isDestroyed || !this.connected.has(sourceEva)) {
      log('%s dropped a message from %s: not connected', this.eva, sourceEva);
      return;
    }
    const event: MessageEvent = { sourceEva, message };
    const handler = this.onMessage;
    if (handler) callUserListenerWith(this, handler, event, this.listenerWhere);
    this.emitSafely('message', event);
  }

  /**
   * Emits an event to user listeners. A listener that throws becomes an `error` event (LISTENER_ERROR), so it
   * cannot break the transport code that reported the event, nor other connections' deliveries.
   */
  protected emitSafely<E extends Exclude<keyof EndpointEvents, 'error'>>(event: E, ...args: Parameters<EndpointEvents[E]>): void {
    if (this.listenerCount(event) === 0) return;
    const emit = this.emit as (name: string, ...rest: unknown[]) => boolean;
    this.callListener(() => emit.call(this, event, ...args));
  }

  /** Reports an asynchronous failure as an `error` event. */
  protected reportError(error: VnfError): void {
    if (this.isDestroyed) return;
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else log('%s error (no error listener): %s %s', this.eva, error.code, error.message);
  }

  protected assertAlive(operation: string): void {
    if (this.isDestroyed) {
      throw new VnfError('DESTROYED', `Cannot call ${operation}: endpoint ${this.eva} was destroyed. Open a new endpoint.`);
    }
  }

  private startConnect(targetEva: string): Promise<ConnectionEvent> {
    const abort = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<ConnectionEvent>((resolve) => {
      timer = setTimeout(() => {
        abort.abort();
        resolve({ status: ConnectionStatus.TIMEOUT, targetEva, reason: 'TIMEOUT' });
      }, this.connectTimeoutMs);
    });
    const aborted = new Promise<ConnectionEvent>((resolve) => {
      abort.signal.addEventListener('abort', () => {
        if (this.isDestroyed) resolve({ status: ConnectionStatus.FAILED, targetEva, reason: 'DESTROYED' });
      });
    });
    const attempt = Promise.resolve()
      .then(() => this.connect(targetEva, abort.signal))
      .catch((err: unknown): ConnectionEvent => ({
        status: ConnectionStatus.FAILED,
        targetEva,
        reason: VnfError.is(err) ? err.code : 'INTERNAL',
      }));
    const promise = Promise.race([attempt, timedOut, aborted]).then((event) => {
      clearTimeout(timer);
      this.pending.delete(targetEva);
      if (event.status === ConnectionStatus.CONNECTED) {
        if (this.isDestroyed) return { status: ConnectionStatus.FAILED, targetEva, reason: 'DESTROYED' };
        this.acceptConnection(targetEva);
      } else if (!abort.signal.aborted) {
        abort.abort();
      }
      // A transport that connects after we gave up must not leave a half-open connection behind.
      if (event.status !== ConnectionStatus.CONNECTED) {
        void attempt.then((late) => {
          if (late.status === ConnectionStatus.CONNECTED && !this.connected.has(targetEva) && !this.isDestroyed) {
            this.disconnect(targetEva);
          }
        });
      }
      return event;
    });
    this.pending.set(targetEva, { promise, abort });
    return promise;
  }

  private callListener(fn: () => void): void {
    callUserListener(this, fn, this.listenerWhere);
  }

  /** Names this endpoint in a listener's error, built only when a listener threw. */
  private readonly listenerWhere = (): string => `endpoint ${this.eva}`;
}

/** Whether two target lists name the same evas in the same order. */
function sameTargets(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
