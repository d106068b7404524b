import type { RegistrySubject } from '@vnf/core';

/*
 * The types RegistryService and its sessions (ServiceSession) share, in a leaf file: the service creates sessions and
 * a session implements RegistrySession, so with these types in either file the two would import each other.
 */

/**
 * Pushes a notification to the session's channel: `paramsJson` is its params, already serialized. Returns false when
 * the channel dropped it (the broker's lagging socket); anything else counts as sent.
 */
export type SessionNotify = (method: string, paramsJson: string) => boolean | void;

/** Counts one client's watches across its sessions (the broker's per-client limit). */
export interface WatchBudget {
  readonly limit: number;
  /** Takes one unit; false when the client is at its limit. */
  take(): boolean;
  give(): void;
}

export interface SessionLimits {
  maxWatches: number;
  /** Writes that may wait for their condition at once (`wait: true`). */
  maxWaits: number;
  /** Bytes of entries in one list reply (a page, or a whole list). */
  maxReplyBytes: number;
  maxPageEntries: number;
  watchBudget?: WatchBudget;
  /** False while the channel drops notifications anyway (the broker's lagging socket): changes are then skipped unbuilt. */
  accepting?: () => boolean;
}

/** What the broker tells a session about its channel (see RegistryService.openSession). */
export interface SessionChannel {
  watchBudget?: WatchBudget;
  accepting?: () => boolean;
  /** Who is behind the channel, for the service's `authorize` hook (its eva is the session's owner). */
  subject?: Omit<RegistrySubject, 'eva'>;
}

/** One RPC channel's view of the registry: the broker opens one per channel and closes it when the channel goes. */
export interface RegistrySession {
  /**
   * Handles one call; resolves the result (for JSON.stringify: a list page may come as RawJson, text already, which
   * the broker puts into its reply as it is) or rejects a VnfError (INVALID_ARGUMENT, NOT_FOUND, FORBIDDEN, …). Validates params strictly: params come from the network.
   */
  handle(method: string, params: unknown): Promise<unknown>;
  /**
   * The channel closed or was lost: ends its watches and waits, and removes the entries this session created.
   * `applyWills`: the session ended uncleanly (its grace ran out), so entries with a will become their wills.
   */
  close(options?: { applyWills?: boolean }): Promise<void>;
  /**
   * The channel dropped but the session is kept for a reconnect (the broker's grace): its waiting writes end now,
   * since their outcome could reach nobody (the client has already rejected them UNAVAILABLE).
   */
  endWaits(): void;
  /**
   * The owner's session moved to another broker sharing the store (a reconnect took it over there): ends the
   * watches, keeps the entries, which now belong to the new session.
   */
  detach(): Promise<void>;
}
