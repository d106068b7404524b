import { AbstractEndpoint, ConnectionStatus, copyBinary, createLogger, utf8Length } from '@vnf/core';
import type { ConnectionEvent, EndpointOptions } from '@vnf/core';

const log = createLogger('in-browser-hub');

/** What an endpoint needs of its hub: the open endpoints, and the delivery scheduler. */
export interface InBrowserNetwork {
  find(eva: string): InBrowserEndpoint | undefined;
  /** Runs `task` later, in FIFO order with every other delivery of the hub. */
  schedule(task: () => void): void;
}

/** Bytes sent on one connection and not yet handed to the peer; a new connection gets a new record. */
interface Flight {
  bytes: number;
}

/** An endpoint of an InBrowserHub. */
export class InBrowserEndpoint extends AbstractEndpoint {
  private readonly network: InBrowserNetwork;
  /** The peer endpoint objects of open connections (a re-opened eva is a different object). */
  private readonly peers = new Map<string, InBrowserEndpoint>();
  private readonly flights = new Map<string, Flight>();
  /** A multicast skips a target with more than this in flight (AbstractEndpoint's rule). */
  private readonly highWaterMark: number;

  constructor(eva: string, network: InBrowserNetwork, options: EndpointOptions) {
    super(eva, options);
    this.network = network;
    this.highWaterMark = options.highWaterMark ?? Infinity;
  }

  /** Bytes accepted by `send` toward `targetEva` whose delivery is still scheduled, as a socket's send buffer. */
  protected override queuedBytes(targetEva: string): number {
    return this.flights.get(targetEva)?.bytes ?? 0;
  }

  protected connect(targetEva: string, signal: AbortSignal): Promise<ConnectionEvent> {
    return new Promise((resolve) => {
      this.network.schedule(() => {
        if (signal.aborted || this.destroyed) return;
        const target = this.network.find(targetEva);
        if (!target || target.destroyed) {
          resolve({ status: ConnectionStatus.FAILED, targetEva, reason: 'NOT_FOUND' });
          return;
        }
        this.peers.set(targetEva, target);
        target.accepted(this);
        resolve({ status: ConnectionStatus.CONNECTED, targetEva });
      });
    });
  }

  protected disconnect(targetEva: string): void {
    const peer = this.peers.get(targetEva);
    this.peers.delete(targetEva);
    this.flights.delete(targetEva);
    if (peer) this.network.schedule(() => peer.lost(this));
  }

  protected transmit(targetEva: string, message: unknown): void {
    const peer = this.peers.get(targetEva);
    if (!peer) return;
    // Copy now: the sender may reuse its buffer right after `send` returns, as it may on a real socket.
    const payload = typeof message === 'string' ? message : copyBinary(message as Uint8Array | ArrayBuffer);
    this.carry(targetEva, peer, payload, typeof payload === 'string' ? utf8Length(payload) : payload.byteLength);
  }

  /**
   * AbstractEndpoint's rule (each target once, skipping one with more than highWaterMark in flight), with a string
   * measured once for all. Binary is copied for each target: each receiver owns its copy, as over a network.
   */
  protected override transmitToMany(targets: readonly string[], message: unknown): void {
    const text = typeof message === 'string' ? message : null;
    const bytes = text !== null ? utf8Length(text) : (message as Uint8Array | ArrayBuffer).byteLength;
    for (const target of targets) {
      const peer = this.peers.get(target);
      if (!peer || this.queuedBytes(target) > this.highWaterMark) continue;
      this.carry(target, peer, text ?? copyBinary(message as Uint8Array | ArrayBuffer), bytes);
    }
  }

  /** Schedules the delivery of `payload` (`bytes` long, the sender's copy) to `peer`, counted in flight meanwhile. */
  private carry(targetEva: string, peer: InBrowserEndpoint, payload: string | Uint8Array, bytes: number): void {
    let flight = this.flights.get(targetEva);
    if (!flight) this.flights.set(targetEva, (flight = { bytes: 0 }));
    const own = flight;
    own.bytes += bytes;
    this.network.schedule(() => {
      peer.received(this, payload);
      this.handedOver(targetEva, own, bytes);
    });
  }

  protected teardown(peers: string[]): void {
    for (const eva of peers) this.disconnect(eva);
    this.peers.clear();
    this.flights.clear();
  }

  private handedOver(targetEva: string, flight: Flight, bytes: number): void {
    flight.bytes -= bytes;
    if (this.flights.get(targetEva) === flight) this.checkDrain(targetEva);
  }

  private accepted(source: InBrowserEndpoint): void {
    if (this.destroyed) return;
    this.peers.set(source.eva, source);
    this.acceptConnection(source.eva);
  }

  private lost(source: InBrowserEndpoint): void {
    if (this.peers.get(source.eva) !== source) return;
    this.peers.delete(source.eva);
    // What was still on its way to the lost peer is no longer this endpoint's to send: bufferedAmount falls to 0.
    this.flights.delete(source.eva);
    this.connectionLost(source.eva);
  }

  private received(source: InBrowserEndpoint, payload: string | Uint8Array): void {
    if (this.peers.get(source.eva) !== source) {
      log('%s dropped a message from a closed connection to %s', this.eva, source.eva);
      return;
    }
    this.deliver(source.eva, payload);
  }
}
