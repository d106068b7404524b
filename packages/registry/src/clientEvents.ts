import type { VnfError } from '@vnf/core';

/** Events of the registry clients (eventemitter3). */
export interface RegistryClientEvents {
  /**
   * An asynchronous failure: a watcher threw (LISTENER_ERROR), or, for WebSocketRegistryClient, an entry or
   * watch could not be restored after a reconnection. Without a listener a LISTENER_ERROR is rethrown
   * (like an unhandled EventEmitter error) and other errors are logged.
   */
  error: (error: VnfError) => void;
  /**
   * The channel to the registry dropped (WebSocketRegistryClient), or InBrowserRegistry.drop ended this client: what
   * it holds may be removed (wills applied) unless it comes back within the broker's grace. A Lock holder must
   * assume it lost its lock.
   */
  down: () => void;
  /** WebSocketRegistryClient only: own entries and watches were restored after the channel came back. */
  resynced: () => void;
  /**
   * WebSocketRegistryClient only: the broker dropped change notifications of `collection` because this client's
   * socket lagged behind a burst (instead of closing it); the watchers may have missed changes: list it again.
   */
  resync: (collection: string) => void;
}
