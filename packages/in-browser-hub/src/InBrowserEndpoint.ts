import { AbstractEndpoint, ConnectionStatus, copyBinary, createLogger } from '@vnf/core';
import type { ConnectionEvent, EndpointOptions } from '@vnf/core';

const log = createLogger('in-browser-hub');

/** What an endpoint needs of its hub: the open endpoints, and the delivery scheduler. */
export interface InBrowserNetwork {
  find(eva: string): InBrowserEndpoint | undefined;
  /** Runs `task` later, in FIFO order with every other delivery of the hub. */
  schedule(task: () => void): void;
}

/** An endpoint of an InBrowserHub. */
export class InBrowserEndpoint extends AbstractEndpoint {
  private readonly network: InBrowserNetwork;
  /** The peer endpoint objects of open connections (a re-opened eva is a different object). */
  private readonly peers = new Map<string, InBrowserEndpoint>();

  constructor(eva: string, network: InBrowserNetwork, options: EndpointOptions) {
    super(eva, options);
    this.network = network;
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
    if (peer) this.network.schedule(() => peer.lost(this));
  }

  protected transmit(targetEva: string, message: unknown): void {
    const peer = this.peers.get(targetEva);
    if (!peer) return;
    // Copy now: the sender may reuse its buffer right after `send` returns, as it may on a real socket.
    const payload = typeof message === 'string' ? message : copyBinary(message as Uint8Array | ArrayBuffer);
    this.network.schedule(() => peer.received(this, payload));
  }

  protected teardown(peers: string[]): void {
    for (const eva of peers) this.disconnect(eva);
    this.peers.clear();
  }

  private accepted(source: InBrowserEndpoint): void {
    if (this.destroyed) return;
    this.peers.set(source.eva, source);
    this.acceptConnection(source.eva);
  }

  private lost(source: InBrowserEndpoint): void {
    if (this.peers.get(source.eva) !== source) return;
    this.peers.delete(source.eva);
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
