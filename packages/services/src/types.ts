import type { RegistryClient } from '@vnf/core';

/** What a handler learns about the call it serves. */
export interface ServiceContext {
  /** The caller's eva, as the transport stamped it on the call (never a value the caller claims). */
  readonly caller: string;
  /** The service's name. */
  readonly service: string;
  /**
   * Fires when the caller cancels, its timeout passes, the provider's `timeoutMs` passes, the caller's connection is
   * lost, or the provider stops: stop working, nothing more reaches the caller.
   */
  readonly signal: AbortSignal;
  /** Sends a progressive result to the caller's `onProgress`, in order, before the result (ignored once the call ended). */
  progress(value: unknown): void;
}

/** Serves one call: resolves the result; a thrown VnfError reaches the caller with its code and message. */
export type ServiceHandler = (params: unknown, context: ServiceContext) => unknown | Promise<unknown>;

export interface ProvideOptions {
  /**
   * Calls this service runs at once; more wait in the queue, in arrival order.
   * @default 16
   */
  concurrency?: number;
  /**
   * Calls that may wait for a free slot; one more is refused with BUFFER_FULL at once.
   * @default 256
   */
  maxQueued?: number;
  /**
   * Longest a call may run on this provider, ms: then its signal fires and the caller gets TIMEOUT. 0: no limit.
   * @default 0
   */
  timeoutMs?: number;
  /**
   * Advertise the service in the registry (the PeerServices' `registry` option): an entry that vanishes with this
   * endpoint, which `callAny` finds. `true` or a plain-JSON `info` to store with it.
   * @default false
   */
  advertise?: boolean | { info: unknown };
  /** Who may call: false refuses the call with FORBIDDEN before the handler runs. Default: everyone connected. */
  allow?: (caller: string) => boolean;
}

/** A service this endpoint provides. */
export interface Provision {
  readonly name: string;
  /** Calls running now, and waiting. */
  readonly running: number;
  readonly queued: number;
  /**
   * Resolves true once the service's ad is in the registry; false at once without `advertise`, or when writing it
   * failed (the failure is an `error` event, e.g. FORBIDDEN from the registry's authorize hook).
   */
  readonly advertised: Promise<boolean>;
  /** Stops providing: new calls get NOT_FOUND, running and queued ones are aborted (UNAVAILABLE to their callers), the ad goes. */
  stop(): Promise<void>;
}

export interface CallOptions {
  /**
   * Longest the caller waits for the result, ms: then the call rejects TIMEOUT and the provider's signal fires.
   * @default the PeerServices' callTimeoutMs (30 000)
   */
  timeoutMs?: number;
  /** Cancels the call: it rejects CANCELLED and the provider's signal fires. */
  signal?: AbortSignal;
  /** Called with each progressive result, in order, before the call resolves. */
  onProgress?: (value: unknown) => void;
}

export interface CallAnyOptions extends CallOptions {
  /**
   * The call may run twice: when its provider is lost mid-call (UNAVAILABLE), it is retried on another. A call not
   * marked idempotent is never sent to a second provider once the first may have run it.
   * @default false
   */
  idempotent?: boolean;
  /**
   * How a provider is picked among the live ones: 'round-robin' (in turn), or 'least-loaded' (the fewest calls
   * this PeerServices has in flight to it; ties in turn).
   * @default 'round-robin'
   */
  strategy?: 'round-robin' | 'least-loaded';
}

export interface PeerServicesOptions {
  /**
   * The sub-protocol name the services speak on (both peers must use the same).
   * @default 'vnf.services'
   */
  subProtocol?: string;
  /** Where services are advertised and found (`advertise`, `callAny`). */
  registry?: RegistryClient;
  /**
   * The registry collection of a service's providers is this prefix plus the service's name.
   * @default 'vnf.services:'
   */
  collectionPrefix?: string;
  /**
   * Default `timeoutMs` of a call, ms.
   * @default 30000
   */
  callTimeoutMs?: number;
  /**
   * Calls this endpoint may have in flight as a caller; one more rejects BUFFER_FULL at once.
   * @default 1000
   */
  maxPendingCalls?: number;
}

/** Events of PeerServices (eventemitter3). */
export interface PeerServicesEvents {
  /** A peer sent something that is not a services frame (PROTOCOL), or a user callback threw (LISTENER_ERROR). */
  error: (error: import('@vnf/core').VnfError) => void;
}
