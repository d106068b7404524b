import { DecoratorHub, VnfError, createMacrotaskQueue, createLogger } from '@vnf/core';
import type { Endpoint, EndpointOptions, Hub } from '@vnf/core';
import { ChaosEngine } from './chaosEngine';
import { ChaosController } from './ChaosController';
import { UnreliableEndpoint } from './UnreliableEndpoint';
import type { ChaosContext } from './UnreliableEndpoint';
import { resolveOptions } from './options';
import type { UnreliableHubOptions } from './options';
import type { ChaosSeed } from './random';

const log = createLogger('unreliable-hub');

/**
 * A decorator that injects seeded, replayable chaos into any hub: drop, duplicate, reorder, latency and
 * jitter, a bandwidth cap, cut connections, black holes and partitions, per direction, changeable at run
 * time through `hub.chaos`. With no rules it is a transparent pass-through.
 */
export class UnreliableHub<Inner extends Hub = Hub> extends DecoratorHub<UnreliableEndpoint, Inner> {
  /** The seed of this run (the one given, or the random one picked): pass it as `seed` to replay the run. */
  readonly seed: ChaosSeed;
  /** Run-time control, counters and the event log. */
  readonly chaos: ChaosController;
  private readonly context: ChaosContext;

  constructor(inner: Inner, options: UnreliableHubOptions = {}) {
    if (typeof inner !== 'object' || inner === null || typeof (inner as Partial<Hub>).openEndpoint !== 'function') {
      throw new VnfError('INVALID_ARGUMENT', 'UnreliableHub wraps a hub: new UnreliableHub(new InBrowserHub(), { seed: 42 }).');
    }
    const settings = resolveOptions(options);
    super(inner);
    const engine = new ChaosEngine(settings.seed, settings.rules, settings.logSize);
    this.seed = settings.seed;
    this.chaos = new ChaosController(engine);
    this.context = {
      engine,
      later: createMacrotaskQueue(),
      applyToIncoming: settings.applyToIncoming,
      lowWaterMark: settings.lowWaterMark,
    };
    log('chaos seed %s', String(this.seed));
  }

  protected override wrapEndpoint(inner: Endpoint, options: EndpointOptions): UnreliableEndpoint {
    return new UnreliableEndpoint(inner, options, this.context);
  }
}
