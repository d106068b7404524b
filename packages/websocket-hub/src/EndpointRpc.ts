import { RpcOverCalls } from './RpcOverCalls';
import type { RpcCalls } from './rpcCalls';

/**
 * An Rpc of `endpoint.getWebSocketRpc()`: shares the endpoint's socket with the endpoint and its other Rpcs, but
 * has its own pending calls and listeners; `close()` detaches only this one.
 */
export class EndpointRpc extends RpcOverCalls {
  constructor(
    eva: string,
    protected readonly calls: RpcCalls,
    private readonly detach: () => void,
  ) {
    super(eva);
  }

  /** Rejects this Rpc's pending calls with DESTROYED and detaches it; the socket and the endpoint's other Rpcs stay. */
  close(): Promise<void> {
    this.calls.destroy();
    this.detach();
    return Promise.resolve();
  }
}
