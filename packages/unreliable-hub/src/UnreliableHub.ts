import { DecoratorHub, VnfError, createMacrotaskQueue, createLogger, waterMarksOver } from '@vnf/core';
import type { Endpoint, EndpointOptions, Hub } from '@vnf/core';
import { ChaosEngine } from './chaosEngine';
import { ChaosController } from './ChaosController';
import { UnreliableEndpoint } from './UnreliableEndpoint';
import type { ChaosContext } from './UnreliableEndpoint';
import { DEFAULT_HIGH_WATER_MARK, DEFAULT_LOW_WATER_MARK, resolveOptions } from './options';
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
  private readonly marks: { highWaterMark: number; lowWaterMark: number };

  /** Its own marks: held messages add to the inner endpoint's buffer. */
  override get highWaterMark(): number {
    return this.marks.highWaterMark;
  }

  override get lowWaterMark(): number {
    return this.marks.lowWaterMark;
  }

  constructor(inner: Inner, options: UnreliableHubOptions = {}) {
    if (typeof inner !== 'object' || inner === null || typeof (inner as Partial<Hub>).openEndpoint !== 'function') {
      throw new VnfError('INVALID_ARGUMENT', 'UnreliableHub wraps a hub: new UnreliableHub(new InBrowserHub(), { seed: 42 }).');
    }
    const settings = resolveOptions(options);
    const marks = waterMarksOver('UnreliableHub', inner, settings.marks, { highWaterMark: DEFAULT_HIGH_WATER_MARK, lowWaterMark: DEFAULT_LOW_WATER_MARK });
    super(inner);
    this.marks = marks;
    const engine = new ChaosEngine(settings.seed, settings.rules, settings.logSize);
    this.seed = settings.seed;
    this.chaos = new ChaosController(engine);
    this.context = {
      engine,
      later: createMacrotaskQueue(),
      applyToIncoming: settings.applyToIncoming,
    };
    log('chaos seed %s', String(this.seed));
  }

  protected override wrapEndpoint(inner: Endpoint, options: EndpointOptions): UnreliableEndpoint {
    return new UnreliableEndpoint(inner, options, this.context);
  }
}
