import { ConnectionStatus, VnfError, type ConnectionEvent, type Endpoint } from '@vnf/core';
import { encodeHello, encodeReset, encodeSignal, randomTag, type ConnectionFrame, type HandshakeFrame } from './frameCodec';
import type { Link, LossReason } from './Link';
import { PeerMemory } from './PeerMemory';
import { Timer } from './Timer';
import type { ResolvedOptions } from './options';

/** What the handshake needs of the endpoint. */
export interface HandshakeHost {
  readonly eva: string;
  /** This endpoint's session id, sent in every HELLO, HELLO_ACK and RESET. */
  readonly session: string;
  readonly options: ResolvedOptions;
  readonly inner: Endpoint;
  /** True once the endpoint was destroyed. */
  isDestroyed(): boolean;
  /** The current link to `peer`, if any. */
  link(peer: string): Link | undefined;
  /** Creates the link the handshake agreed on and makes it the current one to `peer`. */
  createLink(peer: string, tag: number, peerSession: string, peerWindow: number): void;
  /** The connection to `peer` is up on this side: the application may send on it. */
  accept(peer: string): void;
  lose(link: Link, reason: LossReason, error?: VnfError): void;
  /** Sends a control frame, best effort. */
  sendControl(peer: string, frame: string): void;
}

interface PendingOpen {
  /** This attempt's connection tag and handshake number: both new when the peer refuses a HELLO it saw before. */
  tag: number;
  n: number;
  retryMs: number;
  reopening: boolean;
  finish(event: ConnectionEvent): void;
  resend(): void;
  restart(): void;
}

/**
 * Opening and recognising connections: HELLO and HELLO_ACK with their tags and sessions, the answer to frames of a
 * connection this endpoint does not have (RESET), and restart detection (PEER_RESTARTED).
 */
export class Handshake {
  private readonly pendingOpens = new Map<string, PendingOpen>();
  private readonly peerMemory = new PeerMemory();
  private helloCounter = 0;

  constructor(private readonly host: HandshakeHost) {}

  /** Runs this side's handshake over an open inner connection; resolves CONNECTED or why not. */
  open(targetEva: string, signal: AbortSignal): Promise<ConnectionEvent> {
    const { host } = this;
    return new Promise<ConnectionEvent>((resolve) => {
      // Handshake frames may be lost like any other: repeat with backoff until answered or timed out.
      const retryTimer = new Timer(() => pending.resend());
      const onAbort = (): void => {
        // The peer may have accepted already: tell it, or it would keep a connection we gave up on.
        host.sendControl(targetEva, encodeSignal('close', pending.tag));
        pending.finish({ status: ConnectionStatus.FAILED, targetEva, reason: host.isDestroyed() ? 'DESTROYED' : 'TIMEOUT' });
      };
      const pending: PendingOpen = {
        tag: randomTag(this.peerMemory.lastTag(targetEva)),
        n: ++this.helloCounter,
        retryMs: host.options.initialRtoMs,
        reopening: false,
        finish: (event) => {
          retryTimer.clear();
          signal.removeEventListener('abort', onAbort);
          if (this.pendingOpens.get(targetEva) === pending) this.pendingOpens.delete(targetEva);
          resolve({ ...event, targetEva });
        },
        resend: () => {
          if (this.pendingOpens.get(targetEva) !== pending) return;
          if (host.inner.destroyed) return;
          if (host.inner.isConnected(targetEva)) {
            host.sendControl(targetEva, encodeHello('hello', pending.tag, host.session, pending.n, host.options.sendWindow));
          } else if (!pending.reopening) {
            pending.reopening = true;
            void host.inner.openConnection(targetEva).then((event) => {
              pending.reopening = false;
              if (this.pendingOpens.get(targetEva) !== pending) return;
              if (event.status === ConnectionStatus.CONNECTED) pending.resend();
              else if (event.reason === 'NOT_FOUND') pending.finish(event);
            });
          }
          retryTimer.set(pending.retryMs);
          pending.retryMs = Math.min(host.options.maxRtoMs, pending.retryMs * 2);
        },
        restart: () => {
          pending.tag = randomTag(pending.tag);
          pending.n = ++this.helloCounter;
          pending.retryMs = host.options.initialRtoMs;
          retryTimer.clear();
          pending.resend();
        },
      };
      this.pendingOpens.set(targetEva, pending);
      signal.addEventListener('abort', onAbort, { once: true });
      pending.resend();
    });
  }

  onHello(peer: string, frame: HandshakeFrame): void {
    if (this.peerMemory.isDead(peer, frame.session)) return;
    const link = this.host.link(peer);
    if (link?.tag === frame.tag) {
      // Our answer was lost: answer again.
      if (link.peerSession === frame.session) this.sendHelloAck(peer, frame.tag, 0);
      return;
    }
    const pending = this.pendingOpens.get(peer);
    if (this.peerMemory.isStale(peer, frame.session, frame.n)) {
      // A HELLO seen before whose connection is gone here (its peer went silent before our HELLO_ACK reached it,
      // and the link expired): a RESET of its tag lets the peer, if it is still waiting, start again with a new
      // handshake instead of waiting out connectTimeoutMs. Accepting it again could open a phantom connection from a
      // delayed copy. Not while our own open to the peer wins: the peer adopts that one.
      if (!(pending !== undefined && this.host.eva < peer)) this.host.sendControl(peer, encodeReset(frame.tag, this.host.session));
      return;
    }
    // Both sides opened at once: the handshake of the endpoint with the smaller eva wins, the other adopts it.
    const ourOpenWins = pending !== undefined && this.host.eva < peer;
    this.peerMemory.remember(peer, frame.session, frame.n);
    if (ourOpenWins) return;
    if (link) {
      if (link.peerSession !== frame.session) {
        this.host.lose(link, 'restarted', this.peerRestarted(peer, 'The peer is connecting again: resend what your application needs.'));
      } else {
        // The peer closed the old connection (its CLOSE was lost) and opened this one.
        this.host.lose(link, 'superseded');
      }
    }
    this.createLink(peer, frame);
    this.sendHelloAck(peer, frame.tag, pending?.n ?? 0);
    this.host.accept(peer);
    pending?.finish({ status: ConnectionStatus.CONNECTED, targetEva: peer });
  }

  onHelloAck(peer: string, frame: HandshakeFrame): void {
    const pending = this.pendingOpens.get(peer);
    if (!pending || pending.tag !== frame.tag || this.peerMemory.isDead(peer, frame.session)) return;
    this.peerMemory.remember(peer, frame.session, frame.n);
    this.createLink(peer, frame);
    // Accept now rather than when openConnection resolves: the peer may send right away.
    this.host.accept(peer);
    pending.finish({ status: ConnectionStatus.CONNECTED, targetEva: peer });
  }

  /** Frames of a connection this endpoint does not have: from before a restart, or already closed here. */
  onStray(peer: string, frame: ConnectionFrame): void {
    const pending = this.pendingOpens.get(peer);
    if (pending?.tag === frame.tag) {
      // The peer no longer has the connection it accepted for our HELLO (it expired there): start a new
      // handshake, at once.
      if (frame.type === 'reset') pending.restart();
      // The peer accepted it and closed it before its answer reached us: the open ends, it is not redone.
      else if (frame.type === 'close') pending.finish({ status: ConnectionStatus.FAILED, targetEva: peer, reason: 'UNAVAILABLE' });
      return; // otherwise our handshake answer is still on its way
    }
    if (frame.type === 'data' || frame.type === 'probe') this.host.sendControl(peer, encodeReset(frame.tag, this.host.session));
  }

  /**
   * The peer does not know this connection. From another session it is a new instance of the peer (it restarted,
   * and never had the connection): PEER_RESTARTED, as when its HELLO shows the new session. From the same session
   * it ended the connection itself (its CLOSE frames were lost), or from a peer before 0.2.0 (no session): a
   * plain loss.
   */
  onReset(link: Link, session: string | undefined): void {
    if (session === undefined || session === link.peerSession) return this.host.lose(link, 'reset');
    // The new session retires the old one, whose delayed frames are then ignored.
    this.peerMemory.remember(link.peer, session, 0);
    this.host.lose(link, 'restarted', this.peerRestarted(link.peer, 'Open a new connection to it: resend what your application needs.'));
  }

  private createLink(peer: string, frame: HandshakeFrame): void {
    this.host.createLink(peer, frame.tag, frame.session, frame.window);
    this.peerMemory.setLastTag(peer, frame.tag);
  }

  private sendHelloAck(peer: string, tag: number, abandonedN: number): void {
    this.host.sendControl(peer, encodeHello('helloAck', tag, this.host.session, abandonedN, this.host.options.sendWindow));
  }

  private peerRestarted(peer: string, advice: string): VnfError {
    return new VnfError(
      'PEER_RESTARTED',
      `${peer} restarted, so messages from ${this.host.eva} it had not acknowledged may be lost; the connection was reported lost. ${advice}`,
      { details: { eva: this.host.eva, targetEva: peer } },
    );
  }
}
