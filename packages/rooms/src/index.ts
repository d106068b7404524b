export { MAX_QUEUED_DIRECT } from './DirectQueue';
export { Room, ROOM_PREFIX, MAX_ROOM_NAME_LENGTH, DEFAULT_HISTORY_SIZE, DEFAULT_HISTORY_BYTES, DEFAULT_MAX_OUT_OF_ORDER } from './Room';
export type { RoomMember, RoomMessageEvent, RoomStateChange, RoomGap, RoomEvents, RoomOptions, SetStateOptions } from './types';
