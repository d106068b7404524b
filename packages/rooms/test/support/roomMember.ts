// One member of a room over the chaos stack of the rooms end-to-end test and soak, in Node (jest, a child process
// of memberProcess.cjs, the soak): MultiplexHub(ReliableHub(UnreliableHub(RtcHub(WebSocketHub)))) with a
// WebSocketRegistryClient on the member's own socket, so that its entry goes with it. The browser page of
// examples/rooms builds the same stack from window.Vnf. Broadcasts are strings "<tag>:<i>"; what a member got is
// kept per sender as the indices in arrival order, for checkStreams.
import { VnfError } from '@vnf/core';
import { MultiplexHub } from '@vnf/multiplex-hub';
import { WebSocketRegistryClient } from '@vnf/registry';
import { ReliableHub, type ReliableEndpoint } from '@vnf/reliable-hub';
import { Room } from '@vnf/rooms';
import { RtcHub, type RtcEndpoint } from '@vnf/rtc-hub';
import { UnreliableHub } from '@vnf/unreliable-hub';
import { WebSocketFactory, WebSocketHub } from '@vnf/websocket-hub';

/** WebRTC on loopback: no STUN; ICE either connects at once or never. */
export const RTC_OPTIONS = { iceTimeoutMs: 1500, connectTimeoutMs: 5000 };
/** Heartbeats short enough that a killed peer's links go within seconds, long enough for two busy shared cores. */
export const RELIABLE_OPTIONS = { heartbeatIntervalMs: 500, heartbeatTimeoutMs: 4000, restoreTimeoutMs: 8000 };

export interface MemberSpec {
  /** The broker's ws:// URL. */
  url: string;
  room: string;
  eva: string;
  /** The UnreliableHub's seed and drop rate (0 leaves the chaos layer out). */
  seed: number;
  drop: number;
  /** Every connection of this member over the broker's relay (RtcHub forceRelay), never a data channel. */
  forceRelay?: boolean;
  info?: unknown;
}

/** What a member saw, for the test to compare. */
export interface MemberReport {
  eva: string;
  joined: boolean;
  /** Evas in room.members, sorted (this member included). */
  members: string[];
  /** Evas of the join and leave events, in order. */
  joins: string[];
  leaves: string[];
  /** The RtcHub path to each other member now ('direct', 'relay', or null while not connected). */
  paths: Record<string, string | null>;
  /** Room and registry errors, as "CODE: message". */
  errors: string[];
  gaps: number;
}

/** A tag's broadcasts a member got: per sender, the indices in arrival order. */
export type Received = Record<string, number[]>;

/**
 * What is wrong with `received` for broadcasts `<tag>:0` … `<tag>:<count-1>` from each of `senders` (the receiver
 * itself left out): each exactly once, in its sender's order, nothing from anyone else. Empty when all is well.
 */
export function checkStreams(receiver: string, received: Received, senders: readonly string[], count: number): string[] {
  const problems: string[] = [];
  for (const sender of senders) {
    if (sender === receiver) continue;
    const got = received[sender] ?? [];
    const bad = got.findIndex((n, i) => n !== i);
    if (got.length !== count || bad !== -1) {
      const at = bad === -1 ? got.length : bad;
      problems.push(`${receiver} got ${got.length}/${count} of ${sender}'s; first wrong at position ${at}: ${JSON.stringify(got.slice(Math.max(0, at - 2), at + 3))}`);
    }
  }
  for (const sender of Object.keys(received)) {
    if (sender === receiver || !senders.includes(sender)) problems.push(`${receiver} got ${received[sender].length} from ${sender}, not a sender (itself or unexpected)`);
  }
  return problems;
}

/** How many broadcasts of a tag `received` holds from each sender. */
export function countsOf(received: Received): Record<string, number> {
  return Object.fromEntries(Object.entries(received).map(([sender, got]) => [sender, got.length]));
}

export class RoomMember {
  readonly eva: string;
  readonly room: Room;
  private readonly hub: MultiplexHub;
  private readonly rtc: RtcEndpoint;
  private readonly reliable: ReliableEndpoint;
  private readonly registry: WebSocketRegistryClient;
  private readonly joins: string[] = [];
  private readonly leaves: string[] = [];
  private readonly errors: string[] = [];
  private gaps = 0;
  /** Per tag, per sender, the indices received. */
  private readonly got = new Map<string, Received>();

  private constructor(spec: MemberSpec) {
    this.eva = spec.eva;
    const webSocketHub = new WebSocketHub(new WebSocketFactory(spec.url, { reconnect: { initialDelayMs: 50, maxDelayMs: 500 } }));
    const rtcHub = new RtcHub(webSocketHub, { ...RTC_OPTIONS, relay: 'fallback', ...(spec.forceRelay ? { forceRelay: true } : {}) });
    const chaos = spec.drop > 0 ? new UnreliableHub(rtcHub, { seed: spec.seed, drop: spec.drop }) : rtcHub;
    const reliableHub = new ReliableHub(chaos, RELIABLE_OPTIONS);
    this.hub = new MultiplexHub(reliableHub);
    // The top endpoint first: each layer opens its inner endpoint shared, so the same eva opened once more on a
    // layer beneath is that very endpoint (the ReliableEndpoint and RtcEndpoint for failure messages, the WebSocketEndpoint for its socket).
    const endpoint = this.hub.openEndpoint(spec.eva);
    this.reliable = reliableHub.openEndpoint(spec.eva);
    this.rtc = rtcHub.openEndpoint(spec.eva);
    this.registry = new WebSocketRegistryClient(webSocketHub.openEndpoint(spec.eva).getWebSocketRpc());
    this.registry.on('error', (err: VnfError) => this.errors.push(`registry ${err.code}: ${err.message}`));
    this.room = new Room(endpoint, { registry: this.registry, name: spec.room, info: spec.info ?? null });
    this.room.on('join', (m) => this.joins.push(m.eva));
    this.room.on('leave', (m) => this.leaves.push(m.eva));
    this.room.on('gap', (g) => (this.gaps += g.missed));
    this.room.on('error', (err) => this.errors.push(`room ${err.code}: ${err.message}`));
    this.room.onMessage = (event) => {
      if (typeof event.message !== 'string' || event.direct) return;
      const colon = event.message.lastIndexOf(':');
      const tag = event.message.slice(0, colon);
      let byTag = this.got.get(tag);
      if (!byTag) this.got.set(tag, (byTag = {}));
      (byTag[event.sourceEva] ??= []).push(Number(event.message.slice(colon + 1)));
    };
  }

  /** Opens the stack and joins the room. */
  static async join(spec: MemberSpec): Promise<RoomMember> {
    const member = new RoomMember(spec);
    try {
      await member.room.join();
    } catch (err) {
      await member.close();
      throw err;
    }
    return member;
  }

  /**
   * Broadcasts `<tag>:0` … `<tag>:<count-1>`, a batch per macrotask so that timers and sockets keep running; when the
   * stack says its buffer is full it waits for the next macrotask and tries the same one again.
   */
  async broadcast(tag: string, count: number, batch = 50): Promise<void> {
    for (let i = 0; i < count; ) {
      const end = Math.min(count, i + batch);
      try {
        for (; i < end; i++) this.room.broadcast(`${tag}:${i}`);
      } catch (err) {
        if (!VnfError.is(err, 'BUFFER_FULL')) throw err;
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  received(tag: string): Received {
    return this.got.get(tag) ?? {};
  }

  counts(tag: string): Record<string, number> {
    return countsOf(this.received(tag));
  }

  report(): MemberReport {
    const members = [...this.room.members.keys()].sort();
    const paths: Record<string, string | null> = {};
    for (const eva of members) if (eva !== this.eva) paths[eva] = this.rtc.destroyed ? null : this.rtc.path(eva);
    return {
      eva: this.eva,
      joined: this.room.joined,
      members,
      joins: [...this.joins],
      leaves: [...this.leaves],
      paths,
      errors: [...this.errors],
      gaps: this.gaps,
    };
  }

  /**
   * The room's internals toward each other member, for failure messages only: whether the endpoint is connected,
   * whether this member's stream was started toward it (its hello sent), and where this member's incoming stream
   * of it stands.
   */
  diagnose(): Record<string, unknown> {
    return diagnoseRoom(this.room, this.rtc, this.reliable);
  }

  leave(): Promise<void> {
    return this.room.leave();
  }

  /** Leaves (if still in) and closes everything this member opened. */
  async close(): Promise<void> {
    await this.room.leave().catch(() => undefined);
    await this.registry.close().catch(() => undefined);
    await this.hub.close();
  }
}

/**
 * A room's internals toward each other member (private fields, read for failure messages only): the endpoint's
 * connection and buffer, the RtcHub path, whether this member's stream was started toward it (hello sent), and
 * where its incoming stream of that member stands. Self-contained: the page evaluates its source text too.
 */
export function diagnoseRoom(room: Room, rtc: RtcEndpoint, reliable?: unknown): Record<string, unknown> {
  const internals = room as unknown as {
    eva: string;
    outgoing: { started: readonly string[]; next: number };
    incoming: { streams: Map<string, { expected: number | null; highest: number; pending: Map<number, unknown> }> };
    endpoint: { isConnected(eva: string): boolean; bufferedAmount(eva: string): number; destroyed: boolean };
  };
  const links = reliable as { session: string; links: Map<string, { peerSession: string; tag: number }> } | undefined;
  const out: Record<string, unknown> = { next: internals.outgoing.next, session: links?.session };
  for (const eva of room.members.keys()) {
    if (eva === internals.eva) continue;
    const s = internals.incoming.streams.get(eva);
    out[eva] = {
      connected: internals.endpoint.isConnected(eva),
      buffered: internals.endpoint.destroyed ? null : internals.endpoint.bufferedAmount(eva),
      path: rtc.destroyed ? null : rtc.path(eva),
      started: internals.outgoing.started.includes(eva),
      incoming: s ? { expected: s.expected, highest: s.highest, pending: s.pending.size } : null,
      reliableLink: links ? (links.links.get(eva) ? { peerSession: links.links.get(eva)!.peerSession, tag: links.links.get(eva)!.tag } : null) : undefined,
    };
  }
  return out;
}
