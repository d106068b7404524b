import { createLogger, type Endpoint, type Payload } from '@vnf/core';
import { MAX_DATAGRAM_COUNTER, encodeDatagram } from './frameCodec';
import type { Link } from './Link';
import { ReplayWindow } from './ReplayWindow';

const log = createLogger('reliable-hub');

/** Peers whose replay windows are remembered past their connection, as PeerMemory bounds what it remembers. */
const MAX_WINDOWS = 4096;

/** What multicast needs of the endpoint. */
export interface DatagramHost {
  readonly eva: string;
  /** This endpoint's session id, named by every datagram it sends. */
  readonly session: string;
  readonly inner: Endpoint;
  /** The current link to `peer`, if any. */
  link(peer: string): Link | undefined;
  /** Hands what `send` accepted toward the link's peer to the inner endpoint now (see DataPath.flush). */
  flush(link: Link): void;
  /** Hands a message to the application. */
  deliver(peer: string, payload: Payload): void;
}

/**
 * Multicast over ReliableHub: one datagram frame for every target, in one inner multicast, outside each connection's
 * sequence — delivered on arrival, never acknowledged nor sent again, so at most once. A counter of the sender's
 * session numbers its datagrams, and each receiver keeps a sliding replay window per peer session, so a copy made
 * beneath (a duplicating network, UnreliableHub) is dropped.
 */
export class Datagrams {
  private sent = 0;
  /** The replay window of each peer's latest session, oldest use first. */
  private readonly windows = new Map<string, { session: string; window: ReplayWindow }>();

  constructor(private readonly host: DatagramHost) {}

  /**
   * Sends `payload` to `targets` (connected, distinct) in one inner multicast of one frame. False, sending nothing,
   * once this session's counter is used up: the caller then sends to each target on its connection instead.
   */
  multicast(targets: readonly string[], payload: Payload): boolean {
    if (this.sent >= MAX_DATAGRAM_COUNTER) return false;
    // Sends accepted earlier in this turn wait for the end-of-turn pump: hand them over first, so a multicast
    // arrives after them over an inner hub that keeps order.
    for (const target of targets) {
      const link = this.host.link(target);
      if (link?.pumpScheduled) this.host.flush(link);
    }
    this.host.inner.multicast(targets, encodeDatagram(this.host.session, ++this.sent, payload));
    return true;
  }

  /** A datagram arrived: delivered when it is of the peer's current session and not seen before. */
  receive(peer: string, session: string, counter: number, payload: Payload): void {
    const link = this.host.link(peer);
    if (!link || link.peerSession !== session) {
      log('%s dropped a datagram from %s: no connection with that session', this.host.eva, peer);
      return;
    }
    if (!link.replay.accept(counter)) {
      log('%s dropped datagram %d from %s: a copy, or older than the replay window', this.host.eva, counter, peer);
      return;
    }
    // A binary payload is a view into the frame; hand over a copy that owns its buffer.
    this.host.deliver(peer, typeof payload === 'string' ? payload : (payload as Uint8Array).slice());
  }

  /**
   * The replay window for a new link with `peer`'s session `session`: the one its earlier links used, so a copy
   * delayed past a reconnection is still recognised; a new one for a new session.
   */
  windowFor(peer: string, session: string): ReplayWindow {
    const known = this.windows.get(peer);
    const entry = known?.session === session ? known : { session, window: new ReplayWindow() };
    // Re-inserting keeps the Map in least-recently-used order, so the oldest peer is evicted first.
    this.windows.delete(peer);
    this.windows.set(peer, entry);
    if (this.windows.size > MAX_WINDOWS) this.windows.delete(this.windows.keys().next().value as string);
    return entry.window;
  }
}
