import { VnfError, createLogger, type RegistryClient, type RegistryEntry, type RegistryWatchEvent } from '@vnf/core';
import { INC_LENGTH } from './frames';
import type { RoomMember } from './types';

const log = createLogger('rooms');

export const MEMBER_PREFIX = 'm:';
export const STATE_PREFIX = 's:';

/** What Presence tells its room, in the registry's order. */
export interface PresenceHost {
  joined(member: RoomMember): void;
  left(member: RoomMember): void;
  updated(member: RoomMember): void;
  stateChanged(key: string, value: unknown, removed: boolean, by: string): void;
}

/**
 * A room's members and shared state, from one snapshot watch of its registry collection: the members are the
 * `m:<eva>` entries (they vanish with their owner), the state the retained `s:<key>` entries.
 */
export class Presence {
  readonly members = new Map<string, RoomMember>();
  readonly state = new Map<string, unknown>();
  private stopWatch: (() => Promise<void>) | null = null;
  private started = false;

  constructor(
    private readonly registry: RegistryClient,
    private readonly collection: string,
    private readonly self: string,
    private readonly host: PresenceHost,
  ) {}

  /** Resolves once the snapshot is applied (members and state at one revision). */
  async start(): Promise<void> {
    let snapshotApplied!: () => void;
    const applied = new Promise<void>((resolve) => (snapshotApplied = resolve));
    this.stopWatch = await this.registry.watch(
      this.collection,
      (event: RegistryWatchEvent) => {
        this.apply(event);
        if (event.type === 'snapshot') snapshotApplied();
      },
      { snapshot: true },
    );
    await applied;
    this.started = true;
  }

  async stop(): Promise<void> {
    const stop = this.stopWatch;
    this.stopWatch = null;
    if (stop) await stop().catch((err: unknown) => log('stopping the watch of %s failed: %s', this.collection, String(err)));
  }

  private apply(event: RegistryWatchEvent): void {
    if (event.type === 'snapshot') {
      this.resync(event.entries);
      return;
    }
    const { entry } = event;
    if (event.type === 'removed') this.remove(entry);
    else this.put(entry);
  }

  /** A snapshot: the first one, or one replacing everything after a resync. */
  private resync(entries: RegistryEntry[]): void {
    const seen = new Set<string>();
    for (const entry of entries) {
      seen.add(entry.name);
      this.put(entry);
    }
    for (const eva of [...this.members.keys()]) if (!seen.has(MEMBER_PREFIX + eva)) this.removeMember(eva);
    for (const key of [...this.state.keys()]) {
      if (!seen.has(STATE_PREFIX + key)) {
        this.state.delete(key);
        this.host.stateChanged(key, undefined, true, '');
      }
    }
  }

  private put(entry: RegistryEntry): void {
    if (entry.name.startsWith(MEMBER_PREFIX)) {
      const member = toMember(entry, this.self);
      if (!member) return;
      const known = this.members.get(member.eva);
      this.members.set(member.eva, member);
      if (!known) this.host.joined(member);
      else if (known.incarnation !== member.incarnation) {
        // The same eva joined again (a reloaded page that kept its eva): the old member left.
        this.host.left(known);
        this.host.joined(member);
      } else this.host.updated(member);
    } else if (entry.name.startsWith(STATE_PREFIX)) {
      const key = entry.name.slice(STATE_PREFIX.length);
      this.state.set(key, entry.value);
      this.host.stateChanged(key, entry.value, false, entry.owner);
    }
  }

  private remove(entry: RegistryEntry): void {
    if (entry.name.startsWith(MEMBER_PREFIX)) {
      const eva = entry.name.slice(MEMBER_PREFIX.length);
      const known = this.members.get(eva);
      // Only the removal of the member as we know it: a stale entry's removal must not remove its successor.
      const removed = toMember(entry, this.self);
      if (known && (!removed || removed.incarnation === known.incarnation)) this.removeMember(eva);
    } else if (entry.name.startsWith(STATE_PREFIX)) {
      const key = entry.name.slice(STATE_PREFIX.length);
      if (this.state.delete(key)) this.host.stateChanged(key, undefined, true, entry.owner);
    }
  }

  private removeMember(eva: string): void {
    const known = this.members.get(eva);
    if (!known) return;
    this.members.delete(eva);
    this.host.left(known);
  }

  /** True once the first snapshot was applied. */
  get ready(): boolean {
    return this.started;
  }
}

/** The member an `m:<eva>` entry stands for; null for an entry that is not a valid one (or was written by another eva). */
function toMember(entry: RegistryEntry, self: string): RoomMember | null {
  const eva = entry.name.slice(MEMBER_PREFIX.length);
  const value = entry.value as { inc?: unknown; info?: unknown } | null;
  if (eva.length === 0 || entry.owner !== eva || typeof value !== 'object' || value === null) {
    log('ignored member entry %s of %s: not a member entry', entry.name, entry.owner);
    return null;
  }
  if (typeof value.inc !== 'string' || value.inc.length !== INC_LENGTH) return null;
  return Object.freeze({ eva, info: value.info ?? null, incarnation: value.inc, self: eva === self });
}

export function roomError(code: 'INVALID_ARGUMENT' | 'NOT_FOUND' | 'DESTROYED' | 'NOT_CONNECTED', message: string, details?: Record<string, unknown>): VnfError {
  return new VnfError(code, message, details ? { details } : undefined);
}
