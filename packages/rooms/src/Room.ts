import {
  VnfError,
  callUserListener,
  callUserListenerWith,
  createLogger,
  option,
  optionsSchema,
  type MultiplexingEndpoint,
  type RegistryClient,
  type RegistryWriteResult,
  type SubProtocolChannel,
} from '@vnf/core';
import { EventEmitter } from 'eventemitter3';
import { MAX_HEADER_BYTES, decodeFrame, encodeControl, encodeDirect, newIncarnation, type Control, type Frame } from './frames';
import { DirectQueue } from './DirectQueue';
import { IncomingStreams } from './IncomingStreams';
import { Limbo } from './Limbo';
import { MemberLinks } from './MemberLinks';
import { OutgoingStream } from './OutgoingStream';
import { MEMBER_PREFIX, Presence, STATE_PREFIX } from './Presence';
import type { RoomEvents, RoomMember, RoomMessageEvent, RoomOptions, SetStateOptions } from './types';

const log = createLogger('rooms');

/** A room's registry collection and sub-protocol are this prefix and its name. */
export const ROOM_PREFIX = 'vnf.room:';
/** Longest room name: a sub-protocol name is at most 64 characters. */
export const MAX_ROOM_NAME_LENGTH = 64 - ROOM_PREFIX.length;
export const DEFAULT_HISTORY_SIZE = 1024;
export const DEFAULT_HISTORY_BYTES = 8 * 1024 * 1024;
export const DEFAULT_MAX_OUT_OF_ORDER = 4096;
/** Frames that arrive while the room joins (before its snapshot is applied) are held, at most this many. */
export const MAX_EARLY_FRAMES = 16_384;
/** Malformed frames are reported once per sender, for this many senders. */
const MAX_REPORTED = 64;

const SCHEMA = optionsSchema('Room', {
  registry: option.object<RegistryClient>({
    expected: 'a RegistryClient (InBrowserRegistry.connect, WebSocketRegistryClient)',
    check: (r) => typeof r.write === 'function' && typeof r.watch === 'function',
  }),
  name: option.string({ nonEmpty: true }),
  info: option.custom<unknown>({ expected: 'a JSON value', check: () => true, default: null }),
  historySize: option.integer({ min: 1, default: DEFAULT_HISTORY_SIZE }),
  historyBytes: option.integer({ min: 1, default: DEFAULT_HISTORY_BYTES }),
  maxOutOfOrder: option.integer({ min: 1, default: DEFAULT_MAX_OUT_OF_ORDER }),
});

type Phase = 'new' | 'joining' | 'joined' | 'left';

/**
 * A named group of endpoints: presence from registry entries that vanish with their owner, a shared key-value state
 * in retained entries, broadcasts numbered per sender and repaired when lost, and messages to one member. Over a
 * sub-protocol of a MultiplexingEndpoint (every member opens its endpoint on a MultiplexHub): the app's `onMessage`
 * never sees a room frame. Through the broker a broadcast leaves the sender once (Endpoint.multicast).
 */
export class Room extends EventEmitter<RoomEvents> {
  readonly name: string;
  readonly eva: string;
  /** Assignable message handler, as on an endpoint; also emitted as the `message` event. */
  onMessage: ((event: RoomMessageEvent<any>) => void) | null = null;
  private readonly registry: RegistryClient;
  private readonly collection: string;
  private readonly info: unknown;
  private readonly channel: SubProtocolChannel & { maxPayloadSize?: number; bufferedAmount?(eva: string): number };
  /** A broadcast left bytes queued: the next `drain` of a member's connection is told as the room's. */
  private drainOwed = false;
  private readonly outgoing: OutgoingStream;
  private readonly incoming: IncomingStreams;
  private readonly presence: Presence;
  private readonly links: MemberLinks;
  private readonly limbo = new Limbo();
  private early: Array<{ from: string; message: unknown }> | null = [];
  private readonly reported = new Set<string>();
  private readonly direct: DirectQueue;
  private phase: Phase = 'new';

  constructor(
    private readonly endpoint: MultiplexingEndpoint,
    options: RoomOptions,
  ) {
    super();
    if (typeof endpoint !== 'object' || endpoint === null || typeof (endpoint as Partial<MultiplexingEndpoint>).subProtocol !== 'function') {
      throw new VnfError(
        'INVALID_ARGUMENT',
        'A Room needs a MultiplexingEndpoint: open the endpoint on a MultiplexHub (new MultiplexHub(inner).openEndpoint(eva)), on every member.',
      );
    }
    const resolved = SCHEMA.resolve(options);
    if (!resolved.registry) throw SCHEMA.invalid('registry is required: the RegistryClient the room keeps its members and state in.');
    if (resolved.name === undefined || resolved.name.length > MAX_ROOM_NAME_LENGTH) {
      throw SCHEMA.invalid(`name is required: a string of 1 to ${MAX_ROOM_NAME_LENGTH} characters.`);
    }
    if (resolved.registry.owner !== endpoint.eva) {
      throw new VnfError(
        'INVALID_ARGUMENT',
        `The room's registry client belongs to ${JSON.stringify(resolved.registry.owner)}, not to the endpoint ${JSON.stringify(endpoint.eva)}: ` +
          'members are known by their eva, so connect the registry client with the endpoint\'s eva.',
      );
    }
    this.name = resolved.name;
    this.eva = endpoint.eva;
    this.registry = resolved.registry;
    this.collection = ROOM_PREFIX + resolved.name;
    this.info = resolved.info;
    this.channel = endpoint.subProtocol(ROOM_PREFIX + resolved.name);
    const guard = (fn: () => void): void => callUserListener(this, fn, this.where);
    this.outgoing = new OutgoingStream(newIncarnation(), resolved, {
      multicast: (targets, frame) => this.channel.multicast(targets, frame),
      unicast: (target, frame) => this.unicast(target, frame),
    });
    this.incoming = new IncomingStreams(resolved.maxOutOfOrder, {
      deliver: (from, body) => this.deliverApp(from, body, false),
      control: (target, control) => this.unicast(target, encodeControl(control)),
      gap: (sourceEva, missed) => this.phase === 'joined' && guard(() => this.emit('gap', { sourceEva, missed })),
    });
    this.links = new MemberLinks(endpoint);
    this.direct = new DirectQueue(this.name, {
      connected: (eva) => this.channelConnected(eva),
      send: (eva, frame) => this.unicast(eva, frame),
      sendNow: (eva, frame) => this.channel.send(eva, frame),
    });
    this.presence = new Presence(this.registry, this.collection, this.eva, {
      joined: (member) => this.memberJoined(member, guard),
      left: (member) => this.memberLeft(member, guard),
      updated: (member) => this.phase === 'joined' && !member.self && guard(() => this.emit('update', member)),
      stateChanged: (key, value, removed, by) => this.phase === 'joined' && guard(() => this.emit('state', { key, value, removed, by })),
    });
    this.channel.onMessage = (event) => this.onFrame(event.sourceEva, event.message);
    this.channel.on('connection' as 'connectionLost', (peer: string) => this.connected(peer));
    this.channel.on('connectionLost', (peer: string) => {
      this.outgoing.unstart(peer);
      this.links.lost(peer);
    });
    (this.channel as unknown as EventEmitter).on('close', () => this.shutdown());
    (this.channel as unknown as EventEmitter).on('drain', (peer: string) => {
      if (!this.drainOwed || !this.outgoing.started.includes(peer)) return;
      this.drainOwed = false;
      guard(() => this.emit('drain'));
    });
    this.broadcast = this.broadcast.bind(this);
    this.send = this.send.bind(this);
  }

  /** Every member now, this one included, by eva. */
  get members(): ReadonlyMap<string, RoomMember> {
    return this.presence.members;
  }

  /** The room's shared state now, by key. */
  get state(): ReadonlyMap<string, unknown> {
    return this.presence.state;
  }

  /** True between join() resolving and leave() (or the endpoint's destroy). */
  get joined(): boolean {
    return this.phase === 'joined';
  }

  /**
   * Bytes this member's broadcasts still wait to leave with: the smallest `bufferedAmount` over the members it sends
   * to (through the broker they share one socket; over direct links one slow member does not count). A sender pacing
   * on it waits for `drain` past the hub's `highWaterMark`; broadcasts it makes meanwhile may be skipped by the
   * transport and repaired, at a cost.
   */
  get bufferedAmount(): number {
    const targets = this.outgoing.started;
    if (targets.length === 0 || this.endpoint.destroyed || !this.channel.bufferedAmount) return 0;
    let least = Infinity;
    for (const target of targets) least = Math.min(least, this.channel.bufferedAmount(target));
    return least;
  }

  /** The largest string or binary a broadcast or send carries here, in bytes. */
  get maxPayloadSize(): number {
    return (this.channel.maxPayloadSize ?? Infinity) - MAX_HEADER_BYTES;
  }

  /**
   * Joins: writes this member's entry (the registry's `authorize` hook may refuse it: FORBIDDEN), then takes the
   * members and the state at one registry revision. Resolves once they are in `members` and `state`; broadcasts
   * that arrived meanwhile are delivered after, in order. Call once.
   */
  async join(): Promise<void> {
    if (this.phase !== 'new') throw this.unusable('join', 'join() was already called');
    this.phase = 'joining';
    try {
      await this.registry.write({ collection: this.collection, name: MEMBER_PREFIX + this.eva }, { inc: this.outgoing.inc, info: this.info });
      await this.presence.start();
    } catch (err) {
      await this.shutdown();
      throw err;
    }
    if (this.phase !== 'joining') throw this.unusable('join', 'the room was left (or its endpoint destroyed) while joining');
    this.phase = 'joined';
    // After the caller's `await join()` has gone on (it may set listeners then): what waited is delivered next turn.
    setTimeout(() => this.flushEarly(), 0);
  }

  private flushEarly(): void {
    const early = this.early;
    this.early = null;
    if (early === null || this.phase !== 'joined') return;
    for (const { from, message } of early) this.onFrame(from, message);
  }

  /** Leaves: removes this member's entry (the others get `leave`) and stops. Idempotent. */
  async leave(): Promise<void> {
    if (this.phase === 'left') return;
    const wasIn = this.phase !== 'new';
    await this.shutdown();
    if (!wasIn || this.registry.closed) return;
    await this.registry.remove({ collection: this.collection, name: MEMBER_PREFIX + this.eva }, { when: { fields: { inc: this.outgoing.inc } } }).catch((err: unknown) => {
      log('%s could not remove its entry of room %s: %s', this.eva, this.name, String(err));
    });
  }

  /**
   * Sends `message` to every other member: once through the broker (it fans it out), directly over RTC links.
   * Numbered in this member's stream: over reliable stacks every member present since it saw this one join gets it
   * exactly once, in this member's order; over others at most once. Throws at the call what the stack refuses.
   */
  broadcast(message: unknown): void {
    this.assertJoined('broadcast');
    this.outgoing.broadcast(message);
    this.drainOwed = true;
  }

  /**
   * Sends `message` to one member only (not numbered: the stack's own guarantees apply). To a member whose connection
   * is still opening it waits, up to MAX_QUEUED_DIRECT messages (then BUFFER_FULL), and is dropped if the member leaves.
   */
  send(eva: string, message: unknown): void {
    this.assertJoined('send');
    const member = this.presence.members.get(eva);
    if (!member || member.self) {
      throw new VnfError('NOT_FOUND', `${JSON.stringify(eva)} is not another member of room ${JSON.stringify(this.name)}; see room.members.`, {
        details: { room: this.name, eva },
      });
    }
    this.direct.send(eva, encodeDirect(message));
  }

  /** Writes a key of the shared state (a retained registry entry: it stays after this member leaves). */
  setState(key: string, value: unknown, options: SetStateOptions = {}): Promise<RegistryWriteResult> {
    this.assertJoined('setState');
    checkKey(key);
    return this.registry.write({ collection: this.collection, name: STATE_PREFIX + key }, value, { retain: true, ...(options.when !== undefined ? { when: options.when } : {}) });
  }

  /** Removes a key of the shared state (rejects NOT_FOUND when absent, unless `when` is given). */
  deleteState(key: string, options: SetStateOptions = {}): Promise<RegistryWriteResult> {
    this.assertJoined('deleteState');
    checkKey(key);
    return this.registry.remove({ collection: this.collection, name: STATE_PREFIX + key }, options.when !== undefined ? { when: options.when } : {});
  }

  // ---- internals ------------------------------------------------------------------------------

  private get where(): string {
    return `room ${JSON.stringify(this.name)} of ${this.eva}`;
  }

  private onFrame(from: string, message: unknown): void {
    if (this.early !== null) {
      // Until the snapshot is applied and join() has resolved, frames wait, then go through in order.
      if (this.early.length < MAX_EARLY_FRAMES) this.early.push({ from, message });
      return;
    }
    if (this.phase !== 'joined') return;
    const frame = decodeFrame(message);
    if (frame === null) {
      this.malformed(from);
      return;
    }
    this.handle(from, frame);
  }

  private handle(from: string, frame: Frame): void {
    const member = this.presence.members.get(from);
    if (frame.kind === 'direct') {
      if (member && !member.self) this.deliverApp(from, frame.body, true);
      else this.limbo.park(from, frame);
      return;
    }
    if (frame.kind === 'broadcast') {
      if (member?.incarnation === frame.inc) this.incoming.broadcast(from, frame.inc, frame.seq, frame.body);
      else this.limbo.park(from, frame);
      return;
    }
    this.control(from, frame.control, member);
  }

  private control(from: string, control: Control, member: RoomMember | undefined): void {
    if (control.t === 'nack' || control.t === 'hey') {
      // About this member's own stream: only a member may ask, and only of the current incarnation.
      if (control.i !== this.outgoing.inc) return;
      if (!member || member.self) {
        this.limbo.park(from, { kind: 'control', control });
        return;
      }
      if (control.t === 'nack') this.outgoing.repair(from, control.r);
      else this.outgoing.start(from);
      return;
    }
    if (member?.incarnation === control.i) this.incoming.control(from, control.i, control);
    else this.limbo.park(from, { kind: 'control', control });
  }

  private memberJoined(member: RoomMember, guard: (fn: () => void) => void): void {
    if (member.self) return;
    this.outgoing.owe(member.eva);
    this.links.want(member.eva);
    if (this.channelConnected(member.eva)) this.connected(member.eva);
    for (const frame of this.limbo.take(member.eva)) this.handle(member.eva, frame as Frame);
    if (this.phase === 'joined') guard(() => this.emit('join', member));
  }

  private memberLeft(member: RoomMember, guard: (fn: () => void) => void): void {
    if (member.self) return;
    this.outgoing.forget(member.eva);
    this.incoming.forget(member.eva);
    this.links.drop(member.eva);
    this.limbo.drop(member.eva);
    this.direct.drop(member.eva);
    if (this.phase === 'joined') guard(() => this.emit('leave', member));
  }

  private connected(peer: string): void {
    const member = this.presence.members.get(peer);
    if (!member || member.self) return;
    this.outgoing.start(peer);
    this.incoming.connected(peer, member.incarnation);
    this.direct.flush(peer);
  }

  private channelConnected(eva: string): boolean {
    return !this.endpoint.destroyed && this.endpoint.isConnected(eva);
  }

  /** One frame to one member; false when it cannot be sent now (it is asked for again later). */
  private unicast(target: string, frame: unknown): boolean {
    if (!this.channelConnected(target)) return false;
    try {
      this.channel.send(target, frame);
      return true;
    } catch (err) {
      if (VnfError.is(err, 'BUFFER_FULL') || VnfError.is(err, 'NOT_CONNECTED') || VnfError.is(err, 'DESTROYED')) return false;
      throw err;
    }
  }

  private deliverApp(sourceEva: string, message: unknown, direct: boolean): void {
    const event: RoomMessageEvent = { sourceEva, message, direct };
    const handler = this.onMessage;
    if (handler) callUserListenerWith(this, handler, event, this.where);
    if (this.listenerCount('message') > 0) callUserListener(this, () => this.emit('message', event), this.where);
  }

  private malformed(from: string): void {
    if (this.reported.has(from) || this.reported.size >= MAX_REPORTED) return;
    this.reported.add(from);
    const error = new VnfError(
      'PROTOCOL',
      `${this.eva} got from ${from} a frame on room ${JSON.stringify(this.name)} that is not a room frame; it was dropped (reported once). ` +
        'Every member must use the same version of @vnf/rooms.',
      { details: { room: this.name, peer: from } },
    );
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else log('%s', error.message);
  }

  /** Stops everything here (the registry entry is the caller's business). */
  private async shutdown(): Promise<void> {
    if (this.phase === 'left') return;
    this.phase = 'left';
    this.early = null;
    this.outgoing.close();
    this.incoming.close();
    this.links.close();
    this.limbo.clear();
    this.direct.clear();
    this.channel.close();
    await this.presence.stop();
  }

  private assertJoined(operation: string): void {
    if (this.phase === 'joined') return;
    if (this.phase === 'left') throw new VnfError('DESTROYED', `Cannot call ${operation}: ${this.eva} left room ${JSON.stringify(this.name)}. Join a new Room.`);
    throw this.unusable(operation, 'the room is not joined yet: await room.join() first');
  }

  private unusable(operation: string, why: string): VnfError {
    return new VnfError('INVALID_ARGUMENT', `Cannot call ${operation} on room ${JSON.stringify(this.name)} of ${this.eva}: ${why}.`, { details: { room: this.name } });
  }
}

function checkKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new VnfError('INVALID_ARGUMENT', `A state key is a non-empty string; got ${typeof key === 'string' ? 'an empty string' : typeof key}.`);
  }
}
