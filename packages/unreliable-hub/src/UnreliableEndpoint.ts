import { ConnectionStatus, DecoratorEndpoint, VnfError, copyBinary, isBinary } from '@vnf/core';
import type { ConnectionEvent, Endpoint, EndpointOptions } from '@vnf/core';
import { ChaosLink } from './chaosLink';
import type { LinkItem } from './chaosLink';
import type { ChaosEngine, Decision, LocalEndpoint } from './chaosEngine';
import { messageSize } from './messageSize';

/** What an UnreliableEndpoint shares with its hub. */
export interface ChaosContext {
  engine: ChaosEngine;
  /** Runs a task on a later macrotask (connection cuts are reported from the event loop, as a dropped transport is). */
  later(task: () => void): void;
  applyToIncoming: boolean;
}

/**
 * An endpoint of an UnreliableHub: the inner endpoint, with the hub's chaos applied to every message it sends,
 * and to messages arriving from evas that are not endpoints of this hub (unless `applyToIncoming` is off).
 */
export class UnreliableEndpoint<Inner extends Endpoint = Endpoint> extends DecoratorEndpoint<Inner> {
  private readonly context: ChaosContext;
  private readonly handle: LocalEndpoint;
  private readonly outgoing = new Map<string, ChaosLink>();
  private readonly incoming = new Map<string, ChaosLink>();
  /** Connections being cut: messages to them are discarded until the cut is reported. */
  private readonly cutting = new Map<string, symbol>();
  /** The hub's highWaterMark: a multicast skips a target whose buffer is past it (AbstractEndpoint's rule). */
  private readonly highWaterMark: number;

  constructor(inner: Inner, options: EndpointOptions, context: ChaosContext) {
    super(inner, options);
    this.context = context;
    this.highWaterMark = options.highWaterMark ?? Infinity;
    this.handle = {
      connections: () => (this.destroyed ? [] : this.connections()),
      cut: (peer) => this.cut(peer),
      errors: this,
    };
    context.engine.attach(this.eva, this.handle);
  }

  protected override queuedBytes(targetEva: string): number {
    return super.queuedBytes(targetEva) + (this.outgoing.get(targetEva)?.bufferedBytes ?? 0);
  }

  protected override connect(targetEva: string, signal: AbortSignal): Promise<ConnectionEvent> {
    const { engine } = this.context;
    if (engine.refusesConnection(this.eva, targetEva)) return Promise.resolve(this.refuse(targetEva));
    return super.connect(targetEva, signal).then((event) => {
      // A partition raised while the connection was being opened must still keep the two sides apart.
      if (event.status !== ConnectionStatus.CONNECTED || !engine.refusesConnection(this.eva, targetEva)) return event;
      if (!this.inner.destroyed) this.inner.closeConnection(targetEva);
      return this.refuse(targetEva);
    });
  }

  protected override disconnect(targetEva: string): void {
    this.discardLinks(targetEva);
    super.disconnect(targetEva);
  }

  protected override transmit(targetEva: string, message: unknown): void {
    const decision = this.context.engine.decide(this.eva, targetEva);
    this.route(this.eva, targetEva, targetEva, message, decision, this.outgoing, this.handOut(targetEva), false);
  }

  /**
   * Each target meets the chaos a send to it would: its own decision, in the sequence of its pair, recorded alike.
   * The targets it lets through at once and unchanged share one inner multicast; the others get what the rules say
   * (dropped, duplicated, held back), each copy through an inner multicast of its own, so a target the inner layer
   * finds too slow misses it rather than raising an error. A target whose buffer is past highWaterMark is skipped
   * before the chaos, as AbstractEndpoint's rule skips it: it takes no decision.
   */
  protected override transmitToMany(targets: readonly string[], message: unknown): void {
    const { engine } = this.context;
    const straight: string[] = [];
    const seqs: number[] = [];
    for (const target of targets) {
      if (this.queuedBytes(target) > this.highWaterMark) continue;
      const decision = engine.decide(this.eva, target);
      if (this.passesStraight(target, decision)) {
        straight.push(target);
        seqs.push(decision.seq);
      } else {
        this.route(this.eva, target, target, message, decision, this.outgoing, this.handOut(target), true);
      }
    }
    if (straight.length === 0) return;
    this.inner.multicast(straight, message);
    for (let i = 0; i < straight.length; i++) engine.record('delivered', this.eva, straight[i]!, seqs[i]);
  }

  protected override teardown(peers: string[]): void {
    for (const peer of new Set([...this.outgoing.keys(), ...this.incoming.keys(), ...this.cutting.keys()])) {
      this.discardLinks(peer);
    }
    this.context.engine.detach(this.eva, this.handle);
    super.teardown(peers);
  }

  protected override receive(sourceEva: string, message: unknown): void {
    const { engine, applyToIncoming } = this.context;
    if (this.cutting.has(sourceEva)) {
      // Handed on before the cut, still in flight when it happened: a dropped transport loses it.
      engine.record('discarded', sourceEva, this.eva);
      return;
    }
    // Messages from endpoints of this hub met the chaos when they were sent; applying it again would double it.
    if (!applyToIncoming || engine.isLocal(sourceEva) || !this.hasConnection(sourceEva)) {
      this.deliver(sourceEva, message);
      return;
    }
    const decision = engine.decide(sourceEva, this.eva);
    this.route(sourceEva, this.eva, sourceEva, message, decision, this.incoming, (m) => this.deliver(sourceEva, m), false);
  }

  protected override innerConnected(peerEva: string): void {
    if (this.context.engine.refusesConnection(peerEva, this.eva)) {
      this.context.engine.record('refused', peerEva, this.eva);
      this.inner.closeConnection(peerEva);
      return;
    }
    super.innerConnected(peerEva);
  }

  protected override innerConnectionLost(peerEva: string): void {
    this.discardLinks(peerEva);
    super.innerConnectionLost(peerEva);
  }

  /**
   * Applies `decision` to one message of the directed pair from → to; `peer` is the other end of the connection.
   * `forward` hands a copy on; `multicast`: the copy is best effort (see handOut).
   */
  private route(
    from: string,
    to: string,
    peer: string,
    message: unknown,
    decision: Decision,
    links: Map<string, ChaosLink>,
    forward: Forward,
    multicast: boolean,
  ): void {
    const { engine } = this.context;
    const { seq, outcome, rules } = decision;
    if (this.cutting.has(peer)) {
      engine.record('discarded', from, to, seq);
      return;
    }
    if (outcome === 'cut') {
      engine.record('discarded', from, to, seq);
      engine.cut(this.eva, peer);
      return;
    }
    if (outcome !== 'pass') {
      engine.record(outcome, from, to, seq);
      return;
    }
    if (decision.delays.length > 1) engine.record('duplicated', from, to, seq);
    const link = links.get(peer);
    if (!this.needsHolding(decision) && (!link || link.idle)) {
      for (let copy = 0; copy < decision.delays.length; copy++) {
        forward(copy === 0 ? message : copyOf(message), multicast);
        engine.record('delivered', from, to, seq);
      }
      return;
    }
    if (decision.reorder) engine.record('reordered', from, to, seq);
    if (decision.delays.some((d) => d > 0) || Number.isFinite(rules.bytesPerSecond)) engine.record('delayed', from, to, seq);
    const target = link ?? this.openLink(from, to, peer, links, forward);
    const size = messageSize(message);
    decision.delays.forEach((delay, copy) => {
      // Copy binary now: the sender may reuse its buffer as soon as send returns, before the held copy leaves.
      const reorder = copy === 0 && decision.reorder ? { distance: rules.reorderDistance, maxHoldMs: rules.reorderMaxHoldMs } : null;
      target.add(copyOf(message), size, seq, delay, rules.bytesPerSecond, reorder, multicast);
    });
  }

  /** One copy, handed on now: nothing to hold, nothing held ahead of it, the connection not being cut. */
  private passesStraight(peer: string, decision: Decision): boolean {
    if (decision.outcome !== 'pass' || decision.delays.length !== 1 || this.cutting.has(peer) || this.needsHolding(decision)) return false;
    const link = this.outgoing.get(peer);
    return !link || link.idle;
  }

  private needsHolding({ delays, reorder, rules }: Decision): boolean {
    return reorder || Number.isFinite(rules.bytesPerSecond) || delays.some((d) => d > 0);
  }

  private openLink(
    from: string,
    to: string,
    peer: string,
    links: Map<string, ChaosLink>,
    forward: Forward,
  ): ChaosLink {
    const { engine } = this.context;
    const release = (item: LinkItem): void => {
      try {
        forward(item.message, item.multicast);
        engine.record('delivered', from, to, item.seq);
      } catch (err) {
        engine.record('discarded', from, to, item.seq);
        this.reportError(
          VnfError.is(err)
            ? err
            : new VnfError('INTERNAL', `UnreliableHub could not hand on a held message from ${from} to ${to}: ${String(err)}`, { cause: err }),
        );
      }
    };
    // From a timer: checkDrain emits through the listener guard, so a throwing listener becomes an `error` event.
    const afterTimer = (): void => {
      if (links === this.outgoing) this.checkDrain(peer);
    };
    const link = new ChaosLink(release, afterTimer);
    links.set(peer, link);
    return link;
  }

  /**
   * Hands a copy to the inner endpoint: a send's with `send` (a refusal is the caller's, or an `error` event when the
   * copy was held), a multicast's with `multicast`, which skips a target the inner layer finds too slow instead.
   */
  private handOut(peer: string): Forward {
    return (message, multicast) => (multicast ? this.inner.multicast([peer], message) : this.inner.send(peer, message));
  }

  /** Ends both links of a connection that closed, was lost or is being cut: what they held is never handed on. */
  private discardLinks(peer: string): void {
    const { engine } = this.context;
    this.cutting.delete(peer);
    for (const item of this.outgoing.get(peer)?.close() ?? []) engine.record('discarded', this.eva, peer, item.seq);
    for (const item of this.incoming.get(peer)?.close() ?? []) engine.record('discarded', peer, this.eva, item.seq);
    this.outgoing.delete(peer);
    this.incoming.delete(peer);
  }

  /**
   * Cuts the connection as a dropped transport would: from now on nothing more goes out on it, and on a later
   * macrotask the inner connection is closed (the peer gets connectionLost from its transport) and this side
   * reports connectionLost too.
   */
  private cut(peer: string): boolean {
    if (this.destroyed || !this.hasConnection(peer) || this.cutting.has(peer)) return false;
    this.discardLinks(peer);
    const token = Symbol(peer);
    this.cutting.set(peer, token);
    this.context.later(() => {
      // A closeConnection, loss or new cut since then already settled this connection.
      if (this.cutting.get(peer) !== token) return;
      this.discardLinks(peer);
      if (this.destroyed || !this.hasConnection(peer)) return;
      if (!this.inner.destroyed) this.inner.closeConnection(peer);
      this.connectionLost(peer);
    });
    return true;
  }

  private refuse(targetEva: string): ConnectionEvent {
    this.context.engine.record('refused', this.eva, targetEva);
    return { status: ConnectionStatus.FAILED, targetEva, reason: 'UNAVAILABLE' };
  }
}

/** Hands one copy of a message on; `multicast`: it belongs to a multicast. */
type Forward = (message: unknown, multicast: boolean) => void;

function copyOf(message: unknown): unknown {
  return isBinary(message) ? copyBinary(message) : message;
}
