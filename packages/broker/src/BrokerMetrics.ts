import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Router } from '@vnf/protocol';
import { pingRouter, type PingOutcome } from './RouterPing';

/**
 * What the broker counts, read at scrape time only. The hot path bumps plain fields (Relay, Groups, Departures) and
 * keeps its maps; nothing here runs per message. No value names an eva, a socket or an address.
 */
export interface BrokerStats {
  sockets(): number;
  endpoints(): number;
  rpcSockets(): number;
  connections(): number;
  heldBackSenders(): number;
  reservedEvas(): number;
  relayedMessages(): number;
  relayedBytes(): number;
  forwardedMessages(): number;
  fanOutDropped(): number;
  /** Sockets closed by close code, since the broker started. */
  closes(): ReadonlyMap<number, number>;
  /** Registry watches of this broker's clients. */
  registryWatches(): number;
  /** Entries of the registry store (shared by a cluster's brokers), when its storage counts them. */
  registryEntries: (() => Promise<number>) | undefined;
}

/** Seconds; a router on the same host answers in well under a millisecond, one across a network in a few. */
const ROUND_TRIP_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2];

/**
 * The broker's Prometheus metrics, in a registry of its own: several brokers may share a process, and the global
 * default registry would mix them (and leak between tests). prom-client's default process metrics are not
 * included: they install a GC observer and an event-loop monitor that nothing stops (see the README).
 */
export class BrokerMetrics {
  readonly registry = new Registry();
  private pingFailures = 0;
  private pinging: Promise<PingOutcome | undefined> | null = null;

  constructor(
    stats: BrokerStats,
    private readonly router: Router,
  ) {
    const registers = [this.registry];
    const gauge = (name: string, help: string, read: () => number): void => {
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read());
        },
      });
    };
    // A counter read from a field: set to the field's value at each scrape (the field only grows).
    const counter = (name: string, help: string, read: () => number): void => {
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    };
    gauge('vnf_broker_sockets', 'Open WebSocket sockets, registered or not yet.', stats.sockets);
    gauge('vnf_broker_endpoints', 'Registered endpoint sockets.', stats.endpoints);
    gauge('vnf_broker_rpc_sockets', 'Registered rpc sockets.', stats.rpcSockets);
    gauge('vnf_broker_connections', 'Open endpoint-to-endpoint connections with at least one end on this broker.', stats.connections);
    gauge('vnf_broker_held_back_senders', 'Sockets not read because a target they relay to is above relayHighWaterMark.', stats.heldBackSenders);
    gauge('vnf_broker_registry_watches', "Registry watches held by this broker's clients.", stats.registryWatches);
    const entries = stats.registryEntries;
    if (entries) {
      new Gauge({
        name: 'vnf_broker_registry_entries',
        help: 'Entries in the registry store (in a cluster: the shared store, the same on every broker).',
        registers,
        async collect() {
          this.set(await entries());
        },
      });
    }
    gauge('vnf_broker_reserved_evas', 'Evas kept for a reconnect after an unclean drop, their grace running.', stats.reservedEvas);
    counter('vnf_broker_relayed_messages_total', 'Records queued toward sockets of this broker (unicast, each group delivery, records from other brokers).', stats.relayedMessages);
    counter('vnf_broker_relayed_bytes_total', 'Payload bytes of vnf_broker_relayed_messages_total.', stats.relayedBytes);
    counter('vnf_broker_cluster_forwarded_messages_total', 'Records handed to another broker for an endpoint it holds.', stats.forwardedMessages);
    counter('vnf_broker_fanout_dropped_total', 'Group deliveries dropped because their target was above half of relayHighWaterMark.', stats.fanOutDropped);
    new Counter({
      name: 'vnf_broker_closes_total',
      help: 'Sockets closed, by close code (codes outside the standard and VNF ones count as "other").',
      labelNames: ['code'],
      registers,
      collect() {
        this.reset();
        for (const [code, count] of stats.closes()) this.inc({ code: closeLabel(code) }, count);
      },
    });
    if (typeof router.ping === 'function') this.roundTrip(registers);
  }

  /** The metrics in the Prometheus text format. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Times router.ping at scrape time: the histogram and the failure counter share one ping per scrape. */
  private roundTrip(registers: Registry[]): void {
    const histogram = new Histogram({
      name: 'vnf_broker_cluster_round_trip_seconds',
      help: 'How long router.ping() took, timed at each scrape (failed or timed-out pings are not observed).',
      buckets: ROUND_TRIP_BUCKETS,
      registers,
      collect: async () => {
        await this.ping(histogram);
      },
    });
    const failures: Counter = new Counter({
      name: 'vnf_broker_cluster_ping_failures_total',
      help: 'Scrape-time router pings that failed or took more than 2 s.',
      registers,
      collect: async () => {
        // Waits for this scrape's ping, so that a failure shows in the same scrape.
        await this.ping(histogram);
        failures.reset();
        failures.inc(this.pingFailures);
      },
    });
  }

  private ping(histogram: Histogram): Promise<PingOutcome | undefined> {
    this.pinging ??= (pingRouter(this.router) ?? Promise.resolve(undefined))
      .then((outcome) => {
        if (outcome?.ok) histogram.observe(outcome.seconds);
        else if (outcome) this.pingFailures++;
        return outcome;
      })
      .finally(() => (this.pinging = null));
    return this.pinging;
  }
}

/** Close codes that get their own label value: RFC 6455's (1000–1015) and VNF's (4000–4008); a client may send any other. */
function closeLabel(code: number): string {
  return (code >= 1000 && code <= 1015) || (code >= 4000 && code <= 4008) ? String(code) : 'other';
}
