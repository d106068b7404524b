import { createLogger } from '@vnf/core';
import type { VnfError } from '@vnf/core';
import type { PeerLink } from './PeerLink';
import { protocolError, type ControlFrame } from './signalingFrames';

const log = createLogger('rtc-hub:session');

/** Where messages toward the peer travel now. */
export type Path = 'direct' | 'relay';

/** What the path switch needs from its session. */
export interface PathHost {
  readonly eva: string;
  readonly peer: string;
  /** relay: 'fallback': messages may travel over the signaling connection. */
  readonly fallback: boolean;
  /** forceRelay: this side never takes a data channel, and says so in its `relay` frames. */
  readonly forced: boolean;
  isEstablished(): boolean;
  isFinished(): boolean;
  /** The channel of the current attempt, open or not. */
  currentLink(): PeerLink | null;
  sendControl(frame: ControlFrame): boolean;
  /** Re-opens the signaling connection; resolves whether it is up. */
  reopenSignaling(): Promise<boolean>;
  /** Ends `link` as if it had closed itself. */
  closeLink(link: PeerLink, reason: string): void;
  /** The connection is up on this side; `confirmed`: on the peer's too. */
  connected(confirmed: boolean): void;
  /** The route changed: send what waits. */
  flush(): void;
  /** Messages go over `path` now (the queue was flushed onto it): the session reports it when it differs from the last it reported. */
  pathChanged(): void;
  /** The peer has forceRelay: no data channel will ever be made with it. */
  peerForcesRelay(): void;
  /** The initiator tries a direct channel again later. */
  retryLater(): void;
  deliver(message: string | Uint8Array): void;
  /** Ends the session for want of a path: reported lost if the connection was up, else FAILED with `reason`. */
  end(reason: string): void;
  error(error: VnfError): void;
}

/**
 * Which way messages toward one peer go — the data channel or, with relay 'fallback', the signaling connection —
 * and how they keep their order across a switch: the sender announces each switch on the signaling connection
 * (`relay`, `direct`), and frames of a new channel wait here until the peer's `direct` says it relayed nothing
 * after them.
 */
export class PathSwitch {
  private readonly host: PathHost;
  private current: Path | null = null;
  private signalingUp = true;
  /** The data channel the peer announced it sends on; frames from another channel wait until it does. */
  private peerDirectId: string | null = null;
  private held: Array<string | Uint8Array> = [];
  private relaySent = false;
  private relayReceived = false;

  constructor(host: PathHost) {
    this.host = host;
  }

  get path(): Path | null {
    return this.current;
  }

  /** Messages go over `link` from now on. */
  useDirect(link: PeerLink): void {
    // Every message relayed so far was sent before this marker; the peer holds direct frames until it arrives.
    if (this.host.fallback) this.host.sendControl({ t: 'direct', id: link.id });
    this.current = 'direct';
    this.host.connected(false);
    this.host.flush();
    if (this.current === 'direct') this.host.pathChanged();
  }

  /** Messages go over the signaling connection from now on (re-opened first when it dropped). */
  useRelay(): void {
    if (this.host.isFinished()) return;
    if (!this.signalingUp) {
      void this.host.reopenSignaling().then((up) => {
        if (this.host.isFinished()) return;
        // Before the connection is up this is one more failed attempt, and with relay 'fallback' a failed attempt
        // tries the relay again (the connect timeout ends it).
        if (!up && this.host.isEstablished()) return this.host.end('SIGNALING_LOST');
        if (up) this.signalingUp = true;
        this.useRelay();
      });
      return;
    }
    if (!this.relaySent || this.host.isEstablished()) {
      if (!this.host.sendControl(this.host.forced ? { t: 'relay', forced: true } : { t: 'relay' })) return this.host.end('SIGNALING_LOST');
      this.relaySent = true;
    }
    this.current = 'relay';
    this.host.retryLater();
    // Connected once both sides said they relay, so neither reports CONNECTED before the other can send.
    if (this.relayReceived) this.host.connected(true);
    this.host.flush();
    if (this.current === 'relay') this.host.pathChanged();
  }

  /** The current channel closed or failed: fall back to the relay, or end the session. */
  channelClosed(link: PeerLink, reason: string): void {
    const wasDirect = this.channelGone();
    if (!this.host.fallback) return this.host.end(reason);
    log('%s → %s: data channel %s closed (%s); relaying', this.host.eva, this.host.peer, link.id, reason);
    if (!this.host.isEstablished() || wasDirect) this.useRelay();
    else this.host.retryLater();
  }

  /** The current channel is gone: its held frames with it. Returns whether messages were going over it. */
  channelGone(): boolean {
    this.held = [];
    const wasDirect = this.current === 'direct';
    if (wasDirect) this.current = null;
    return wasDirect;
  }

  /** The peer relays from now on; `forced`: it always will (forceRelay). */
  onRelay(forced: boolean): void {
    if (!this.host.fallback) {
      this.host.error(protocolError(`${this.host.peer} relays, but this hub has relay: 'never'; use the same relay mode on both sides`));
      return;
    }
    this.relayReceived = true;
    this.peerLeftChannel();
    if (forced) this.host.peerForcesRelay();
    if (!this.host.isEstablished()) this.useRelay();
  }

  /** The peer sends on channel `id` from now on: what it relayed came before. */
  onDirect(id: string): void {
    this.peerDirectId = id;
    if (this.host.currentLink()?.id === id) this.releaseHeld();
  }

  /** Whether a relayed data frame may be delivered. */
  acceptsRelayed(): boolean {
    if (!this.host.fallback || !this.host.isEstablished()) {
      this.host.error(protocolError(`${this.host.peer} relayed a message outside a relayed connection`));
      return false;
    }
    this.peerLeftChannel();
    return true;
  }

  /** Whether messages arriving on `link` must wait for the peer's `direct` (they might overtake relayed ones). */
  holds(link: PeerLink): boolean {
    return this.host.fallback && this.peerDirectId !== link.id && this.signalingUp;
  }

  hold(message: string | Uint8Array): void {
    this.held.push(message);
  }

  /** Delivers the held messages (the peer's `direct` came, or nothing more can come over the relay). */
  releaseHeld(): void {
    const held = this.held;
    this.held = [];
    for (const message of held) {
      if (this.host.isFinished()) return;
      this.host.deliver(message);
    }
  }

  /** The signaling connection dropped: held messages cannot be overtaken any more; a relayed connection is lost. */
  onSignalingLost(): void {
    this.signalingUp = false;
    this.releaseHeld();
    if (!this.host.isEstablished() || this.current !== 'direct') this.host.end('SIGNALING_LOST');
  }

  onSignalingUp(): void {
    this.signalingUp = true;
  }

  dispose(): void {
    this.held = [];
  }

  /** The peer gave up the channel it announced; anything it still carries would arrive out of order. */
  private peerLeftChannel(): void {
    const link = this.host.currentLink();
    if (link && this.peerDirectId === link.id) this.host.closeLink(link, 'CHANNEL_CLOSED');
  }
}
