/**
 * Request/response to the broker, with server-pushed notifications. `WebSocketRpc` implements it;
 * `WebSocketRegistryClient` and other broker services are written against this interface only.
 */
export interface Rpc {
  /** The eva this channel speaks for (the owner of registry entries it creates). */
  readonly eva: string;
  /**
   * Calls `method` on the broker. Rejects with a VnfError: TIMEOUT when no answer comes in time,
   * UNAVAILABLE when the channel is down, DESTROYED after close, or the error the service returned.
   */
  call(method: string, params: unknown, options?: { timeoutMs?: number }): Promise<unknown>;
  /** Listens to notifications pushed by the broker; returns the function that stops listening. */
  onNotification(listener: (method: string, params: unknown) => void): () => void;
  /**
   * Listens to the channel's state. `up` fires after every (re)connection, `down` when it drops;
   * a service re-creates its session state (entries, watches) on `up` after a `down`.
   */
  onStateChange(listener: (state: 'up' | 'down') => void): () => void;
  /** Closes the channel (or, for a shared channel, detaches from it). Idempotent. */
  close(): Promise<void>;
}
