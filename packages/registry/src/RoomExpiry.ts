import { createLogger, type RegistryStorage, type StorageChange } from '@vnf/core';
import type { CollectionSubscriptions } from './CollectionSubscriptions';
import { ROOM_MEMBER_PREFIX, ROOM_STATE_PREFIX, isMemberName, isStateName } from './rooms';

const log = createLogger('registry:rooms');

/** How often one expiry reads the room again for state written while it removed the rest (a write racing its writer's leave). */
const EXPIRY_PASSES = 4;

/** A room these rules follow: from a join through them until its state is gone after its last member left. */
interface FollowedRoom {
  /** Grows with each member that joins: a countdown or an expiry started before a join gives up. */
  joins: number;
  timer?: ReturnType<typeof setTimeout>;
  stop?: () => void;
}

/**
 * Removes a room's state entries `ttlMs` after its last presence entry went (removed, its owner gone, its lease run
 * out), unless a member joins meanwhile. It follows each room joined through these rules on the storage's changes,
 * so it sees every way a presence entry goes, the storage's own lease expiry included; each removal is a change
 * watchers are told. Rules instances sharing a storage may each expire a room: the removals are conditional on the
 * version read, so each entry goes once.
 */
export class RoomExpiry {
  private readonly rooms = new Map<string, FollowedRoom>();
  private closed = false;

  constructor(
    private readonly storage: RegistryStorage,
    private readonly subscriptions: CollectionSubscriptions,
    private readonly ttlMs: number,
  ) {}

  /** A member joined `collection` through these rules: follow the room (its member may have left already). */
  joined(collection: string): void {
    if (this.closed || this.rooms.has(collection)) return;
    const room: FollowedRoom = { joins: 0 };
    this.rooms.set(collection, room);
    this.subscriptions.subscribe(collection, { raw: (change) => this.onChange(collection, room, change) }).then(
      (stop) => {
        if (this.rooms.get(collection) !== room) {
          stop();
          return;
        }
        room.stop = stop;
        // The member may have left before the subscription began: nothing would tell it then.
        this.countDownIfEmpty(collection, room);
      },
      (err: unknown) => {
        if (this.rooms.get(collection) === room) this.rooms.delete(collection);
        log('could not follow room collection %s: %O', collection, err);
      },
    );
  }

  /** Stops every countdown and stops following the rooms: a room emptied from now on keeps its state. */
  close(): void {
    this.closed = true;
    for (const room of this.rooms.values()) this.unfollow(room);
    this.rooms.clear();
  }

  private onChange(collection: string, room: FollowedRoom, change: StorageChange): void {
    if (!isMemberName(change.record.name)) return;
    if (change.type === 'added') {
      room.joins++;
      if (room.timer) clearTimeout(room.timer);
      room.timer = undefined;
    } else if (change.type === 'removed') {
      this.countDownIfEmpty(collection, room);
    }
  }

  /** Starts the countdown once the room has no member left (and no join came while that was read). */
  private countDownIfEmpty(collection: string, room: FollowedRoom): void {
    const joins = room.joins;
    this.hasMembers(collection).then(
      (members) => {
        if (members || room.joins !== joins || room.timer || this.rooms.get(collection) !== room) return;
        room.timer = setTimeout(() => {
          room.timer = undefined;
          this.expire(collection, room).catch((err: unknown) => log('could not expire the state of room collection %s: %O', collection, err));
        }, this.ttlMs);
        // A countdown must not keep a process alive by itself.
        (room.timer as { unref?: () => void }).unref?.();
      },
      (err: unknown) => log('could not read the members of room collection %s: %O', collection, err),
    );
  }

  /** The countdown ran out: the room's state goes, unless a member joined meanwhile; then the room is no longer followed. */
  private async expire(collection: string, room: FollowedRoom): Promise<void> {
    const joins = room.joins;
    const current = (): boolean => room.joins === joins && this.rooms.get(collection) === room;
    for (let pass = 0; pass < EXPIRY_PASSES; pass++) {
      if (!current() || (await this.hasMembers(collection))) return;
      const { records } = await this.storage.page(collection, ROOM_STATE_PREFIX, Infinity, Infinity);
      const state = records.filter((record) => isStateName(record.name));
      if (state.length === 0) break;
      for (const record of state) {
        if (!current()) return;
        // At the version read: an entry a member rewrote meanwhile is its to keep (and that member joined, so this stops).
        await this.storage.write(record, null, { version: record.version });
      }
    }
    if (!current()) return;
    this.rooms.delete(collection);
    this.unfollow(room);
  }

  private unfollow(room: FollowedRoom): void {
    if (room.timer) clearTimeout(room.timer);
    room.timer = undefined;
    room.stop?.();
  }

  /** Whether a presence entry is left: they sort together right after `m:`, so the first name after it tells. */
  private async hasMembers(collection: string): Promise<boolean> {
    const { records } = await this.storage.page(collection, ROOM_MEMBER_PREFIX, 1, Infinity);
    return records.length > 0 && isMemberName(records[0].name);
  }
}
