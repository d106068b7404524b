import { ConnectionStatus, VnfError, createLogger, type Endpoint } from '@vnf/core';
import { encodeSignal } from './frameCodec';
import type { Link, LossReason } from './Link';
import type { ResolvedOptions } from './options';
import { TurnClock } from './TurnClock';

const log = createLogger('reliable-hub');

/** What liveness and restore need of the endpoint. */
export interface LivenessHost {
  readonly eva: string;
  readonly options: ResolvedOptions;
  readonly inner: Endpoint;
  /** True while `link` is the endpoint's connection to its peer (not lost, closed or replaced). */
  isCurrent(link: Link): boolean;
  /** Every current link. */
  links(): Iterable<Link>;
  /** Sends a control frame, best effort. */
  sendControl(peer: string, frame: string): void;
  /** Declares losses, sends what may be sent and arms the retransmission timer (the data path). */
  service(link: Link): void;
  lose(link: Link, reason: LossReason, error: VnfError): void;
}

/**
 * Liveness and restore of every link: heartbeats and probes find a silent peer; a lost inner connection is
 * re-opened with backoff, and a link that is not restored within restoreTimeoutMs is lost.
 */
export class Liveness {
  /** When frames arrive; `lastHeard` is on the same clock (performance.now()). */
  private readonly clock = new TurnClock();

  constructor(private readonly host: LivenessHost) {}

  /** Starts the heartbeat of a new link. */
  start(link: Link): void {
    link.heartbeatTimer.set(this.heartbeatTick);
  }

  heartbeat(link: Link): void {
    const { eva, options } = this.host;
    const silentMs = performance.now() - link.lastHeard;
    if (silentMs >= options.heartbeatTimeoutMs && link.state === 'open') {
      log('%s: %s silent for %d ms; restoring', eva, link.peer, silentMs);
      this.startRestoring(link);
    }
    // The peer answers a probe with an ACK, so an idle connection still hears from its peer.
    if (silentMs >= options.heartbeatIntervalMs && link.innerUp) this.host.sendControl(link.peer, encodeSignal('probe', link.tag));
    link.heartbeatTimer.set(this.heartbeatTick);
  }

  /** A valid frame of `link` arrived. */
  heard(link: Link): void {
    link.lastHeard = this.clock.now();
    if (link.state === 'restoring' && link.innerUp) {
      log('%s: connection to %s restored', this.host.eva, link.peer);
      link.state = 'open';
      link.restoreTimer.clear();
    }
  }

  /** The inner endpoint has a connection to the link's peer again. */
  innerConnected(link: Link): void {
    if (!link.innerUp) this.innerRestored(link);
  }

  innerLost(link: Link): void {
    log('%s: inner connection to %s lost; restoring', this.host.eva, link.peer);
    link.innerUp = false;
    link.retransmitTimer.clear();
    this.startRestoring(link);
    this.reopen(link);
  }

  /** The inner endpoint is back online: re-open every dropped inner connection now. */
  innerOnline(): void {
    for (const link of this.host.links()) {
      if (link.innerUp || link.reopening) continue;
      link.reconnectTimer.clear();
      link.reconnectDelayMs = this.host.options.reconnectBaseMs;
      this.reopen(link);
    }
  }

  /** Re-opens the inner connection, with exponential backoff between attempts. */
  reopen(link: Link): void {
    const { inner } = this.host;
    if (link.innerUp || link.reopening || !this.host.isCurrent(link)) return;
    if (inner.destroyed) return;
    if (inner.isConnected(link.peer)) return this.innerRestored(link);
    link.reopening = true;
    void inner.openConnection(link.peer).then((event) => {
      link.reopening = false;
      if (!this.host.isCurrent(link) || link.innerUp) return;
      if (event.status === ConnectionStatus.CONNECTED) return this.innerRestored(link);
      // NOT_FOUND too may be transient (the peer's own transport reconnecting): retry until the restore deadline.
      log('%s: re-opening the inner connection to %s: %s %s', this.host.eva, link.peer, event.status, event.reason ?? '');
      link.reconnectTimer.set(link.reconnectDelayMs);
      link.reconnectDelayMs = Math.min(this.host.options.reconnectMaxMs, link.reconnectDelayMs * 2);
    });
  }

  /** The restore deadline passed: the link is lost. */
  restoreExpired(link: Link): void {
    const { eva, options } = this.host;
    this.host.lose(
      link,
      'timeout',
      new VnfError(
        'TIMEOUT',
        `The connection from ${eva} to ${link.peer} could not be restored within ${options.restoreTimeoutMs} ms; ` +
          'messages not yet acknowledged may be lost. Open a new connection when the peer is reachable again.',
        { details: { eva, targetEva: link.peer } },
      ),
    );
  }

  private get heartbeatTick(): number {
    return this.host.options.heartbeatIntervalMs / 2;
  }

  private startRestoring(link: Link): void {
    if (link.state === 'restoring') return;
    link.state = 'restoring';
    link.restoreTimer.set(this.host.options.restoreTimeoutMs);
  }

  private innerRestored(link: Link): void {
    link.innerUp = true;
    link.reconnectTimer.clear();
    link.reconnectDelayMs = this.host.options.reconnectBaseMs;
    // Frames in flight on the old inner connection may be gone (and the new one may be another path).
    link.send.resendAll();
    // The peer answers with an ACK (the connection is then restored) or a RESET (it does not know it).
    this.host.sendControl(link.peer, encodeSignal('probe', link.tag));
    this.host.service(link);
  }
}
