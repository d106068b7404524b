import type { Rpc } from '@vnf/core';
import type { RpcCalls } from './rpcCalls';

/**
 * An Rpc of `endpoint.getWebSocketRpc()`: shares the endpoint's socket with the endpoint and its other Rpcs, but
 * has its own pending calls and listeners; `close()` detaches only this one.
 */
export class EndpointRpc implements Rpc {
  readonly eva: string;

  constructor(
    eva: string,
    private readonly calls: RpcCalls,
    private readonly detach: () => void,
  ) {
    this.eva = eva;
    this.call = this.call.bind(this);
    this.onNotification = this.onNotification.bind(this);
    this.onStateChange = this.onStateChange.bind(this);
    this.close = this.close.bind(this);
  }

  call(method: string, params: unknown, options?: { timeoutMs?: number }): Promise<unknown> {
    return this.calls.call(method, params, options);
  }

  onNotification(listener: (method: string, params: unknown) => void): () => void {
    return this.calls.onNotification(listener);
  }

  onStateChange(listener: (state: 'up' | 'down') => void): () => void {
    return this.calls.onStateChange(listener);
  }

  /** Rejects this Rpc's pending calls with DESTROYED and detaches it; the socket and the endpoint's other Rpcs stay. */
  close(): Promise<void> {
    this.calls.destroy();
    this.detach();
    return Promise.resolve();
  }
}
