import { VnfError, validateEva, type RegistryStore } from '@vnf/core';
import { isRegistryMethod } from './registryProtocol';
import { positiveInteger } from './options';
import { ServiceSession, type SessionLimits, type SessionNotify, type WatchBudget } from './ServiceSession';

export interface RegistryServiceOptions {
  /** Most watches one session may hold at once; one more is refused with TOO_LARGE. Default 64. */
  maxWatchesPerSession?: number;
  /** Bytes of entries in one list reply: pages are cut below it, a whole list above it is refused TOO_LARGE. Default 256 KiB. */
  maxReplyBytes?: number;
  /** Most entries in one page. Default 1 000. */
  maxPageEntries?: number;
}

export const DEFAULT_MAX_WATCHES_PER_SESSION = 64;
export const DEFAULT_MAX_REPLY_BYTES = 256 * 1024;
export const DEFAULT_MAX_PAGE_ENTRIES = 1000;

/** What the broker tells a session about its channel (see openSession). */
export interface SessionChannel {
  watchBudget?: WatchBudget;
  accepting?: () => boolean;
}

/** One RPC channel's view of the registry: the broker opens one per channel and closes it when the channel goes. */
export interface RegistrySession {
  /**
   * Handles one call; resolves the result (for JSON.stringify: a list page may come as RawJson, text already, which
   * the broker puts into its reply as it is) or rejects a VnfError (INVALID_ARGUMENT, NOT_FOUND, FORBIDDEN, …). Validates params strictly: params come from the network.
   */
  handle(method: string, params: unknown): Promise<unknown>;
  /** The channel closed or was lost: removes the entries this session created and ends its watches. */
  close(): Promise<void>;
}

/**
 * The registry's server side, for the broker: it turns `registry.*` RPC calls into store operations
 * (see registryProtocol.ts and the README for the shapes). All rules live in the store.
 *
 * Entries belong to an owner (an eva), not to one session. When a reconnecting endpoint's new channel
 * opens before its old one is closed, both sessions share the owner for a moment; the entries are removed
 * when the owner's last session closes, so the old session closing cannot wipe what the new one restored.
 */
export class RegistryService {
  readonly store: RegistryStore;
  private readonly limits: SessionLimits;
  private readonly sessions = new Map<string, Set<ServiceSession>>();

  constructor(store: RegistryStore, options: RegistryServiceOptions = {}) {
    if (typeof store !== 'object' || store === null || typeof store.create !== 'function') {
      throw new VnfError('INVALID_ARGUMENT', 'RegistryService needs a RegistryStore, for example new MemoryRegistryStore().');
    }
    this.store = store;
    this.limits = {
      maxWatches: positiveInteger(options.maxWatchesPerSession, DEFAULT_MAX_WATCHES_PER_SESSION, 'maxWatchesPerSession'),
      maxReplyBytes: positiveInteger(options.maxReplyBytes, DEFAULT_MAX_REPLY_BYTES, 'maxReplyBytes'),
      maxPageEntries: positiveInteger(options.maxPageEntries, DEFAULT_MAX_PAGE_ENTRIES, 'maxPageEntries'),
    };
    this.handles = this.handles.bind(this);
    this.openSession = this.openSession.bind(this);
  }

  /** True for the RPC method names this service serves (all start with 'registry.'). */
  handles(method: string): boolean {
    return isRegistryMethod(method);
  }

  /**
   * One session per RPC channel; `notify` pushes a notification (method, params as JSON text) to that channel.
   * `channel.watchBudget` counts the watches of the client behind the channel across all its sessions (the broker's
   * per-client limit); `channel.accepting()` is false while the channel would drop notifications anyway.
   */
  openSession(owner: string, notify: SessionNotify, channel: SessionChannel = {}): RegistrySession {
    const { watchBudget, accepting } = channel;
    validateEva(owner, 'owner');
    if (typeof notify !== 'function') throw new VnfError('INVALID_ARGUMENT', 'openSession needs a notify function.');
    const peers = this.sessions.get(owner) ?? new Set<ServiceSession>();
    this.sessions.set(owner, peers);
    const session = new ServiceSession(this.store, owner, notify, { ...this.limits, watchBudget, accepting }, () => {
      peers.delete(session);
      if (peers.size > 0) return false;
      if (this.sessions.get(owner) === peers) this.sessions.delete(owner);
      return true;
    });
    peers.add(session);
    return session;
  }
}
