import { VnfError, option, optionsSchema, validateEva, type RegistryStore } from '@vnf/core';
import { isRegistryMethod } from './registryProtocol';
import { ServiceSession } from './ServiceSession';
import type { RegistrySession, SessionChannel, SessionLimits, SessionNotify } from './sessionTypes';

export interface RegistryServiceOptions {
  /**
   * Most watches one session may hold at once; one more is refused with TOO_LARGE.
   * @default 64
   */
  maxWatchesPerSession?: number;
  /**
   * Bytes of entries in one list reply: pages are cut below it, a whole list above it is refused TOO_LARGE.
   * @default 262144 (256 KiB)
   */
  maxReplyBytes?: number;
  /**
   * Most entries in one page.
   * @default 1000
   */
  maxPageEntries?: number;
}

export const DEFAULT_MAX_WATCHES_PER_SESSION = 64;
export const DEFAULT_MAX_REPLY_BYTES = 256 * 1024;
export const DEFAULT_MAX_PAGE_ENTRIES = 1000;

const SCHEMA = optionsSchema('RegistryService', {
  maxWatchesPerSession: option.integer({ min: 1, default: DEFAULT_MAX_WATCHES_PER_SESSION }),
  maxReplyBytes: option.integer({ min: 1, default: DEFAULT_MAX_REPLY_BYTES }),
  maxPageEntries: option.integer({ min: 1, default: DEFAULT_MAX_PAGE_ENTRIES }),
});

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
    const { maxWatchesPerSession, maxReplyBytes, maxPageEntries } = SCHEMA.resolve(options);
    this.limits = { maxWatches: maxWatchesPerSession, maxReplyBytes, maxPageEntries };
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
