import type { RegistryClient, RegistryCondition, VnfError } from '@vnf/core';

/** A member of a room, as its registry entry says. Frozen. */
export interface RoomMember {
  readonly eva: string;
  /** What the member gave as `info` when it joined (a JSON value; null when none). */
  readonly info: unknown;
  /** Its join: a new one each time it joins, so a reloaded page that kept its eva is a new member. */
  readonly incarnation: string;
  /** True for this room's own member. */
  readonly self: boolean;
}

/** A room message as the app sees it. */
export interface RoomMessageEvent<M = unknown> {
  /** The member that sent it: stamped by the transport, never claimed by the sender. */
  sourceEva: string;
  message: M;
  /** True for `send(eva, …)` to this member alone; false for a broadcast. */
  direct: boolean;
}

/** A change of the room's shared state. */
export interface RoomStateChange {
  key: string;
  /** The new value; undefined when removed. */
  value: unknown;
  removed: boolean;
  /** The eva of the member that wrote it ('' when the registry removed it, e.g. after a resync). */
  by: string;
}

export interface RoomGap {
  sourceEva: string;
  /** Broadcasts of that member this one will never get: they left the sender's history before it asked again. */
  missed: number;
}

/** The events of a Room (eventemitter3); each listener runs through the room's listener guard. */
export interface RoomEvents {
  /** A member joined (after this room joined: those present then are in `members`). */
  join: (member: RoomMember) => void;
  /** A member left: it called leave(), or it was gone for the broker's drop detection and grace. Once per join. */
  leave: (member: RoomMember) => void;
  /** A member's entry changed without a new join. */
  update: (member: RoomMember) => void;
  message: (event: RoomMessageEvent) => void;
  state: (change: RoomStateChange) => void;
  gap: (gap: RoomGap) => void;
  /** After broadcasts, a member's connection drained below the hub's low-water mark: pace on `bufferedAmount` and this. */
  drain: () => void;
  /** An asynchronous failure (a listener threw: LISTENER_ERROR; a malformed frame: PROTOCOL; the registry failed). */
  error: (error: VnfError) => void;
}

export interface RoomOptions {
  /** The registry client the room's presence and state live in (required). Its owner must be the endpoint's eva. */
  registry: RegistryClient;
  /** The room's name: 1 to 55 characters. */
  name: string;
  /** What the other members see of this one (a JSON value). Default null. */
  info?: unknown;
  /** Broadcasts kept to repair what a member missed. Default 1024. */
  historySize?: number;
  /** Bytes of broadcasts kept, at most. Default 8 MiB. */
  historyBytes?: number;
  /** Broadcasts of one sender held behind a gap, at most. Default 4096. */
  maxOutOfOrder?: number;
}

export interface SetStateOptions {
  /** Write only when this holds (compare and set); otherwise resolve CONFLICT. */
  when?: RegistryCondition;
}
