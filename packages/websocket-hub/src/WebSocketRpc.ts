import { VnfError, option, optionsSchema, validateEva, type ErrorEmitter } from '@vnf/core';
import { Channel, type ChannelHandler } from './channel';
import { DEFAULT_CALL_TIMEOUT_MS, RpcCalls } from './rpcCalls';
import { RpcOverCalls } from './RpcOverCalls';
import type { WebSocketFactory } from './WebSocketFactory';

export interface WebSocketRpcOptions {
  /**
   * Time a call waits for the broker's answer unless the call says otherwise, ms.
   * @default 10000
   */
  callTimeoutMs?: number;
  /**
   * Called with asynchronous failures: the broker refused this channel for good, or a notification or state
   * listener threw (LISTENER_ERROR). Without it, the first are logged and a throwing listener is rethrown on a
   * microtask, as an EventEmitter with no `error` listener would.
   * @default none
   */
  onError?: (error: VnfError) => void;
}

const SCHEMA = optionsSchema('WebSocketRpc', {
  callTimeoutMs: option.number({ above: 0, default: DEFAULT_CALL_TIMEOUT_MS }),
  onError: option.function<(error: VnfError) => void>(),
});

/**
 * RPC to the broker over its own socket, speaking for `eva` (hello role `rpc`). The broker keeps rpc
 * sockets apart from endpoint sockets, so it never collides with an endpoint of the same eva.
 * The socket reconnects by itself; calls made while it is down reject UNAVAILABLE.
 */
export class WebSocketRpc extends RpcOverCalls {
  private readonly channel: Channel;
  protected readonly calls: RpcCalls;

  constructor(eva: string, factory: WebSocketFactory, options: WebSocketRpcOptions = {}) {
    validateEva(eva);
    if (!factory || typeof factory.create !== 'function') throw new VnfError('INVALID_ARGUMENT', 'WebSocketRpc needs a WebSocketFactory.');
    const { callTimeoutMs: timeout, onError } = SCHEMA.resolve(options);
    super(eva);
    const handler: ChannelHandler = {
      onUp: () => this.calls.up(),
      onDown: () => this.calls.down(),
      onFatal: (error) => {
        this.calls.fatal(error);
        onError?.(error);
      },
      onControl: (message) => void this.calls.handleControl(message),
      onData: () => undefined,
      onDrain: () => undefined,
      onError: (error) => onError?.(error),
    };
    this.channel = new Channel(factory, 'rpc', eva, handler);
    const errors: ErrorEmitter = {
      listenerCount: () => (onError ? 1 : 0),
      emit: (_event, error) => {
        onError?.(error);
        return onError !== undefined;
      },
    };
    this.calls = new RpcCalls(this.channel, eva, timeout, errors);
    this.channel.start();
  }

  close(): Promise<void> {
    this.calls.destroy();
    return this.channel.close();
  }
}
