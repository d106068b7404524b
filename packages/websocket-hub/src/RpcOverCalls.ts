import type { Rpc } from '@vnf/core';
import type { RpcCalls } from './rpcCalls';

/** The part of every Rpc that only forwards to its pending-call table; subclasses own the socket and `close`. */
export abstract class RpcOverCalls implements Rpc {
  readonly eva: string;
  protected abstract readonly calls: RpcCalls;

  constructor(eva: string) {
    this.eva = eva;
    // Registry clients and users pass these around unbound.
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

  abstract close(): Promise<void>;
}
