import { VnfError, type RegistryKey } from '@vnf/core';

/**
 * Collections whose name starts with this are rooms (docs/coordination.md, Room collections): `vnf.room:<room>`
 * holds the room's presence entries (`m:<eva>`) and its shared state (`s:<key>`), under rules every registry keeps.
 */
export const ROOM_COLLECTION_PREFIX = 'vnf.room:';
/** A room's presence entry is `m:<eva>`: written by that eva only, never retained, gone with its owner. */
export const ROOM_MEMBER_PREFIX = 'm:';
/** A room's state entry is `s:<key>`: retained, written by any member. */
export const ROOM_STATE_PREFIX = 's:';

export const DEFAULT_ROOM_STATE_TTL_MS = 60_000;
export const DEFAULT_MAX_ROOM_STATE_ENTRIES = 256;
export const DEFAULT_MAX_ROOM_STATE_BYTES = 64 * 1024;

/** The room of a collection (what follows ROOM_COLLECTION_PREFIX), or undefined for a collection that is no room. */
export function roomOf(collection: string): string | undefined {
  return collection.startsWith(ROOM_COLLECTION_PREFIX) ? collection.slice(ROOM_COLLECTION_PREFIX.length) : undefined;
}

/** The kind of an entry of a room collection, from its name; any other name is refused. */
export function roomEntryKind(key: RegistryKey): 'member' | 'state' {
  const { name, collection } = key;
  if (name.startsWith(ROOM_MEMBER_PREFIX) && name.length > ROOM_MEMBER_PREFIX.length) return 'member';
  if (name.startsWith(ROOM_STATE_PREFIX) && name.length > ROOM_STATE_PREFIX.length) return 'state';
  throw new VnfError(
    'INVALID_ARGUMENT',
    `Registry entry "${name}" cannot be written in room collection "${collection}": a room holds only presence entries ` +
      `named ${ROOM_MEMBER_PREFIX}<eva> and state entries named ${ROOM_STATE_PREFIX}<key>.`,
    { details: { collection, name } },
  );
}

/** A presence entry's name. In name order they sort together, right after `m:` itself (which no entry is named). */
export function isMemberName(name: string): boolean {
  return name.startsWith(ROOM_MEMBER_PREFIX);
}

/** A state entry's name. */
export function isStateName(name: string): boolean {
  return name.startsWith(ROOM_STATE_PREFIX);
}
