import {
  ConnectionStatus,
  VnfError,
  type ErrorCode,
  callUserListener,
  createLogger,
  option,
  optionsSchema,
  type MultiplexingEndpoint,
  type RegistryClient,
  type SubProtocolChannel,
} from '@vnf/core';
import { EventEmitter } from 'eventemitter3';
import { FrameSender, MAX_SERVICE_NAME_LENGTH, decodeFrame, type Frame } from './frames';
import { CallUndelivered, ServiceCaller } from './ServiceCaller';
import { ServiceDirectory } from './ServiceDirectory';
import { ServiceProvider, type ResolvedProvideOptions } from './ServiceProvider';
import type { CallAnyOptions, CallOptions, PeerServicesEvents, PeerServicesOptions, ProvideOptions, Provision, ServiceHandler } from './types';

const log = createLogger('services');

export const DEFAULT_CALL_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_PENDING_CALLS = 1000;
export const DEFAULT_CONCURRENCY = 16;
export const DEFAULT_MAX_QUEUED = 256;
export const DEFAULT_SUB_PROTOCOL = 'vnf.services';
export const DEFAULT_COLLECTION_PREFIX = 'vnf.services:';

/** The options of a call that gives none (shared, never changed). */
const NO_OPTIONS: CallOptions = Object.freeze({});

/** The longest timer delay: 2^31 - 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

const SCHEMA = optionsSchema('PeerServices', {
  subProtocol: option.string({ default: DEFAULT_SUB_PROTOCOL, nonEmpty: true }),
  registry: option.object<RegistryClient>({ expected: 'a RegistryClient (InBrowserRegistry.connect, WebSocketRegistryClient)', check: (r) => typeof r.write === 'function' && typeof r.watch === 'function' }),
  collectionPrefix: option.string({ default: DEFAULT_COLLECTION_PREFIX, nonEmpty: true }),
  callTimeoutMs: option.number({ above: 0, max: MAX_TIMER_MS, default: DEFAULT_CALL_TIMEOUT_MS }),
  maxPendingCalls: option.integer({ min: 1, default: DEFAULT_MAX_PENDING_CALLS }),
});

const PROVIDE_SCHEMA = optionsSchema('provide', {
  concurrency: option.integer({ min: 1, default: DEFAULT_CONCURRENCY }),
  maxQueued: option.integer({ min: 0, default: DEFAULT_MAX_QUEUED }),
  timeoutMs: option.number({ min: 0, max: MAX_TIMER_MS, default: 0 }),
  advertise: option.custom<boolean | { info: unknown }>({
    expected: 'true, false or { info }',
    check: (v) => typeof v === 'boolean' || (typeof v === 'object' && v !== null && Object.keys(v).length === 1 && 'info' in v),
    default: false,
  }),
  allow: option.function<(caller: string) => boolean>({ expected: 'a function (callerEva) => boolean' }),
});

const CALL_SCHEMA = optionsSchema('call', {
  timeoutMs: option.number({ above: 0, max: MAX_TIMER_MS }),
  signal: option.custom<AbortSignal>({ expected: 'an AbortSignal', check: (s) => typeof s === 'object' && s !== null && typeof (s as AbortSignal).addEventListener === 'function' }),
  onProgress: option.function<(value: unknown) => void>({ expected: 'a function called with each progressive result' }),
});

const CALL_ANY_SCHEMA = optionsSchema('callAny', {
  timeoutMs: option.number({ above: 0, max: MAX_TIMER_MS }),
  signal: option.custom<AbortSignal>({ expected: 'an AbortSignal', check: (s) => typeof s === 'object' && s !== null && typeof (s as AbortSignal).addEventListener === 'function' }),
  onProgress: option.function<(value: unknown) => void>({ expected: 'a function called with each progressive result' }),
  idempotent: option.boolean({ default: false }),
  strategy: option.enum(['round-robin', 'least-loaded'] as const, { default: 'round-robin' }),
});

/**
 * Services hosted by an endpoint and called by its peers, over a sub-protocol of a MultiplexingEndpoint (both peers
 * use `MultiplexHub` and a PeerServices): the app's `onMessage` never sees a services frame. `provide` serves calls
 * with a concurrency limit and a bounded queue; `call` reaches one provider, `callAny` a live one found in the
 * registry, retrying idempotent calls elsewhere when a provider is lost mid-call.
 */
export class PeerServices extends EventEmitter<PeerServicesEvents> {
  readonly eva: string;
  private readonly channel: SubProtocolChannel;
  private readonly sender: FrameSender;
  private readonly provider: ServiceProvider;
  private readonly caller: ServiceCaller;
  private readonly directory: ServiceDirectory | null;
  private readonly callTimeoutMs: number;
  /** Opens in progress, by target: concurrent calls to one peer share one openConnection. */
  private readonly opening = new Map<string, Promise<void>>();
  private readonly provisions = new Set<Provision>();
  private closing: Promise<void> | null = null;

  constructor(
    private readonly endpoint: MultiplexingEndpoint,
    options: PeerServicesOptions = {},
  ) {
    super();
    if (typeof endpoint !== 'object' || endpoint === null || typeof (endpoint as Partial<MultiplexingEndpoint>).subProtocol !== 'function') {
      throw new VnfError(
        'INVALID_ARGUMENT',
        'PeerServices needs a MultiplexingEndpoint: open the endpoint on a MultiplexHub (new MultiplexHub(inner).openEndpoint(eva)), on both peers.',
      );
    }
    const resolved = SCHEMA.resolve(options);
    this.eva = endpoint.eva;
    this.callTimeoutMs = resolved.callTimeoutMs;
    this.channel = endpoint.subProtocol(resolved.subProtocol);
    this.sender = new FrameSender((target, message) => this.channel.send(target, message));
    this.provider = new ServiceProvider({ eva: this.eva, emitter: this, reply: (caller, frame) => this.reply(caller, frame) });
    this.caller = new ServiceCaller(
      { eva: this.eva, emitter: this, connect: (target) => this.connect(target), send: (target, frame) => this.sender.frame(target, frame) },
      resolved.maxPendingCalls,
    );
    this.directory = resolved.registry ? new ServiceDirectory(resolved.registry, resolved.collectionPrefix) : null;
    this.channel.onMessage = (event) => this.onFrame(event.sourceEva, event.message);
    this.channel.on('connectionLost', (peer: string) => {
      this.caller.lost(peer);
      this.provider.lost(peer);
    });
  }

  get closed(): boolean {
    return this.closing !== null;
  }

  /** Provides `name`: calls to it run `handler`. INVALID_ARGUMENT for a name already provided here. */
  provide(name: string, handler: ServiceHandler, options: ProvideOptions = {}): Provision {
    this.assertOpen('provide');
    validateName(name);
    if (typeof handler !== 'function') throw new VnfError('INVALID_ARGUMENT', `provide("${name}", handler): handler must be a function (params, context) => result.`);
    if (this.provider.has(name)) throw new VnfError('INVALID_ARGUMENT', `${this.eva} already provides "${name}"; stop() the first provision before providing it again.`);
    const { advertise, ...rest } = PROVIDE_SCHEMA.resolve(options);
    if (advertise !== false && !this.directory) {
      throw new VnfError('INVALID_ARGUMENT', `provide("${name}", …, { advertise }) needs the PeerServices' registry option (a RegistryClient of this endpoint).`);
    }
    const resolved: ResolvedProvideOptions = { concurrency: rest.concurrency, maxQueued: rest.maxQueued, timeoutMs: rest.timeoutMs, allow: rest.allow };
    let stopping: Promise<void> | null = null;
    let advertised: Promise<boolean> = Promise.resolve(false);
    const provision = this.provider.add(name, handler, resolved, () => advertised, (service) => {
      stopping ??= (async () => {
        this.provisions.delete(service);
        this.provider.remove(service);
        if (advertise !== false) await this.directory!.withdraw(name);
      })();
      return stopping;
    });
    this.provisions.add(provision);
    if (advertise !== false) {
      const ad = advertise === true ? {} : { info: advertise.info };
      advertised = this.directory!.advertise(name, ad).then(
        () => true,
        (err: unknown) => {
          const error = VnfError.is(err) ? err : new VnfError('INTERNAL', String(err));
          this.report(new VnfError(error.code, `${this.eva} could not advertise "${name}" in the registry: ${error.message}`, { cause: err }));
          return false;
        },
      );
    }
    return provision;
  }

  /** Calls `name` on `targetEva`; resolves its result, or rejects a VnfError with a stable code (README, Errors). */
  call(targetEva: string, name: string, params?: unknown, options: CallOptions = NO_OPTIONS): Promise<unknown> {
    // Not async (a promise and a hop fewer a call), but it never throws: every error is a rejection.
    try {
      this.assertOpen('call');
      validateName(name);
      // Most calls give no options: they skip the schema (its cost shows at tens of thousands of calls a second).
      const { timeoutMs, signal, onProgress } = options === NO_OPTIONS ? options : CALL_SCHEMA.resolve(options);
      return this.caller.call(targetEva, name, params, timeoutMs ?? this.callTimeoutMs, { signal, onProgress }, true);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Calls `name` on a live provider found in the registry. An idempotent call whose provider is lost mid-call (or
   * cannot be reached) is retried on another; any other call is retried only when it never reached its provider.
   */
  async callAny(name: string, params?: unknown, options: CallAnyOptions = {}): Promise<unknown> {
    this.assertOpen('callAny');
    validateName(name);
    if (!this.directory) throw new VnfError('INVALID_ARGUMENT', 'callAny needs the PeerServices\' registry option, where providers advertise.');
    const { timeoutMs, signal, onProgress, idempotent, strategy } = CALL_ANY_SCHEMA.resolve(options);
    const deadline = Date.now() + (timeoutMs ?? this.callTimeoutMs);
    const tried = new Set<string>();
    for (;;) {
      const { evas, list } = await this.directory.providers(name);
      // Never this endpoint itself: a service it provides, it can run without a call. Providers that could not be
      // reached lately come last: only when no other is left.
      const untried = evas.filter((eva) => !tried.has(eva) && eva !== this.eva);
      const reachable = untried.filter((eva) => !list.unreachable.has(eva));
      const candidates = reachable.length > 0 ? reachable : untried;
      if (candidates.length === 0) {
        throw new VnfError(
          'NOT_FOUND',
          tried.size === 0
            ? `No live provider of "${name}" is advertised in the registry. Start one (provide with advertise: true), or check the name.`
            : `No other live provider of "${name}" is left to try (tried ${[...tried].join(', ')}).`,
          { details: { service: name } },
        );
      }
      const target = this.pick(candidates, list, strategy);
      tried.add(target);
      const left = deadline - Date.now();
      if (left <= 0) throw new VnfError('TIMEOUT', `No provider of "${name}" answered within ${timeoutMs ?? this.callTimeoutMs} ms.`);
      try {
        return await this.caller.call(target, name, params, left, { signal, onProgress });
      } catch (err) {
        // Another provider may take it only when this one surely did not run it, or running it twice is harmless.
        if (err instanceof CallUndelivered && (idempotent || !err.delivered)) {
          if (!err.delivered) list.unreachable.add(target);
          log('%s: provider %s of %s was lost (%s); trying another', this.eva, target, name, err.code);
          continue;
        }
        throw plain(err);
      }
    }
  }

  /** Stops every service (their ads go), rejects calls in flight DESTROYED; the endpoint stays open. Idempotent. */
  close(): Promise<void> {
    if (!this.closing) this.closing = this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    this.caller.close();
    await Promise.all([...this.provisions].map((provision) => provision.stop()));
    this.provider.close();
    await this.directory?.close();
    this.channel.close();
    this.removeAllListeners();
  }

  private pick(candidates: string[], list: { turn: number }, strategy: 'round-robin' | 'least-loaded'): string {
    if (strategy === 'least-loaded') {
      let best = candidates[list.turn++ % candidates.length];
      for (const eva of candidates) if (this.caller.inFlightTo(eva) < this.caller.inFlightTo(best)) best = eva;
      return best;
    }
    return candidates[list.turn++ % candidates.length];
  }

  private onFrame(source: string, message: unknown): void {
    if (this.closing) return;
    const frame = decodeFrame(message);
    if (!frame) {
      this.report(new VnfError('PROTOCOL', `${source} sent something that is not a services frame on sub-protocol ${this.channel.name}; it was dropped.`, { details: { peer: source } }));
      return;
    }
    if (frame.t === 'call') this.provider.onCall(source, frame);
    else if (frame.t === 'cancel') this.provider.onCancel(source, frame.id);
    else this.caller.onFrame(source, frame);
  }

  /** Sends a provider's frame; false when the caller's connection is gone. */
  private reply(caller: string, frame: Frame): boolean {
    if (!this.endpoint.isConnected(caller)) return false;
    this.sender.frame(caller, frame);
    return true;
  }

  /** Resolves once connected to `target` (one open shared by concurrent calls); rejects with a stable code. */
  private connect(target: string): Promise<void> | null {
    if (this.endpoint.isConnected(target)) return null;
    let opening = this.opening.get(target);
    if (!opening) {
      opening = this.endpoint.openConnection(target).then(({ status, reason }) => {
        if (status === ConnectionStatus.CONNECTED) return;
        const code: ErrorCode =
          reason === 'NOT_FOUND' ? 'NOT_FOUND' : status === ConnectionStatus.TIMEOUT ? 'TIMEOUT' : status === ConnectionStatus.REJECTED ? 'FORBIDDEN' : 'UNAVAILABLE';
        throw new VnfError(code, `${this.eva} could not connect to ${target} (${status}${reason ? `: ${reason}` : ''}) to call a service there.`, {
          details: { target, status },
        });
      });
      const done = opening.finally(() => this.opening.delete(target));
      done.catch(() => undefined);
      this.opening.set(target, opening);
    }
    return opening;
  }

  private report(error: VnfError): void {
    if (this.listenerCount('error') > 0) callUserListener(this, () => this.emit('error', error), `the PeerServices of ${this.eva}`);
    else log('%s: %s %s', this.eva, error.code, error.message);
  }

  private assertOpen(operation: string): void {
    if (this.closing) throw new VnfError('DESTROYED', `Cannot ${operation}: the PeerServices of ${this.eva} was closed. Create a new one.`);
  }
}

function validateName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_SERVICE_NAME_LENGTH) {
    throw new VnfError('INVALID_ARGUMENT', `A service name is a string of 1 to ${MAX_SERVICE_NAME_LENGTH} characters; got ${JSON.stringify(name)}.`);
  }
}

/** A caller's error as a plain VnfError (CallUndelivered is internal to the retry logic). */
function plain(err: unknown): unknown {
  if (err instanceof CallUndelivered) return new VnfError(err.code, err.message);
  return err;
}
