import { VnfError, option, optionsSchema, validateEva, type RegistryAccess, type RegistryAuthorize, type RegistryStore } from '@vnf/core';
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
  /**
   * Writes one session may have waiting for their condition (`wait: true`) at once; one more is refused TOO_LARGE.
   * @default 16
   */
  maxWaitsPerSession?: number;
  /**
   * Decides what each caller may read and write (docs/security.md, The registry's authorize hook).
   * @default defaultAuthorize: anyone reads, owners write their own entries, nobody writes retained ones
   */
  authorize?: RegistryAuthorize;
}

export const DEFAULT_MAX_WATCHES_PER_SESSION = 64;
export const DEFAULT_MAX_WAITS_PER_SESSION = 16;
export const DEFAULT_MAX_REPLY_BYTES = 256 * 1024;
export const DEFAULT_MAX_PAGE_ENTRIES = 1000;

const SCHEMA = optionsSchema('RegistryService', {
  maxWatchesPerSession: option.integer({ min: 1, default: DEFAULT_MAX_WATCHES_PER_SESSION }),
  maxReplyBytes: option.integer({ min: 1, default: DEFAULT_MAX_REPLY_BYTES }),
  maxPageEntries: option.integer({ min: 1, default: DEFAULT_MAX_PAGE_ENTRIES }),
  maxWaitsPerSession: option.integer({ min: 1, default: DEFAULT_MAX_WAITS_PER_SESSION }),
  authorize: option.function<RegistryAuthorize>({ expected: 'a function (subject, action, resource) => boolean | Promise<boolean>' }),
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
  private readonly limits: Omit<SessionLimits, 'watchBudget' | 'accepting'>;
  private readonly authorize: RegistryAuthorize | undefined;
  private readonly sessions = new Map<string, Set<ServiceSession>>();

  constructor(store: RegistryStore, options: RegistryServiceOptions = {}) {
    if (typeof store !== 'object' || store === null || typeof store.create !== 'function') {
      throw new VnfError('INVALID_ARGUMENT', 'RegistryService needs a RegistryStore, for example new MemoryRegistryStore().');
    }
    this.store = store;
    const { maxWatchesPerSession, maxReplyBytes, maxPageEntries, maxWaitsPerSession, authorize } = SCHEMA.resolve(options);
    this.limits = { maxWatches: maxWatchesPerSession, maxReplyBytes, maxPageEntries, maxWaits: maxWaitsPerSession };
    this.authorize = authorize;
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
    const { watchBudget, accepting, subject } = channel;
    validateEva(owner, 'owner');
    if (typeof notify !== 'function') throw new VnfError('INVALID_ARGUMENT', 'openSession needs a notify function.');
    const peers = this.sessions.get(owner) ?? new Set<ServiceSession>();
    this.sessions.set(owner, peers);
    const authorize = this.authorize;
    const who = { ...subject, eva: owner };
    const access: RegistryAccess | undefined = authorize && ((action, resource) => authorize(who, action, resource));
    const release = (): boolean => {
      peers.delete(session);
      if (peers.size > 0) return false;
      if (this.sessions.get(owner) === peers) this.sessions.delete(owner);
      return true;
    };
    const session = new ServiceSession(this.store, owner, notify, { ...this.limits, watchBudget, accepting }, release, access);
    peers.add(session);
    return session;
  }
}
