import { VnfError, callUserListener, createLogger, type ErrorEmitter } from '@vnf/core';
import type { Frame } from './frames';
import type { Provision, ServiceContext, ServiceHandler } from './types';

const log = createLogger('services:provider');

/** What the provider side needs of PeerServices. */
export interface ProviderHost {
  readonly eva: string;
  readonly emitter: ErrorEmitter;
  /** Sends a frame to a caller; false when it could not be sent (the caller is gone). */
  reply(callerEva: string, frame: Frame): boolean;
}

export interface ResolvedProvideOptions {
  concurrency: number;
  maxQueued: number;
  timeoutMs: number;
  allow: ((caller: string) => boolean) | undefined;
}

/** One call a provider holds: running, or waiting for a slot. */
interface ServedCall {
  caller: string;
  id: number;
  params: unknown;
  /** Made when the handler first reads `context.signal`. */
  controller: AbortController | null;
  /** How the call ended (null: given up), for a signal first read after it ended. */
  ended: Frame | null;
  timer: ReturnType<typeof setTimeout> | null;
  /** The call was answered (or given up): nothing more is sent for it. */
  done: boolean;
  /** Waiting in the service's queue for a slot. */
  queued: boolean;
}

/**
 * What a handler gets with its params. A class rather than an object literal with a getter, which V8 builds slowly
 * (it showed at tens of thousands of calls a second); the signal is made on first read, `progress` on first use (it
 * may be taken off the context and called alone).
 */
class CallContext implements ServiceContext {
  readonly #call: ServedCall;
  readonly #host: ProviderHost;
  #progress: ((value: unknown) => void) | null = null;

  constructor(
    readonly caller: string,
    readonly service: string,
    call: ServedCall,
    host: ProviderHost,
  ) {
    this.#call = call;
    this.#host = host;
  }

  // Made on first use: most handlers never look, and an AbortController that is aborted costs microseconds a call.
  get signal(): AbortSignal {
    const call = this.#call;
    if (!call.controller) {
      call.controller = new AbortController();
      if (call.done) call.controller.abort(abortReason(call.ended));
    }
    return call.controller.signal;
  }

  get progress(): (value: unknown) => void {
    return (this.#progress ??= (value: unknown) => {
      const call = this.#call;
      if (!call.done) this.#host.reply(this.caller, { t: 'progress', id: call.id, value });
    });
  }
}

/** One provided service: its handler, its slots and queue. */
class ProvidedService implements Provision {
  running = 0;
  readonly waiting: ServedCall[] = [];
  stopped = false;
  /** True while `pump` starts calls: a handler that settles at once frees its slot without starting a nested pump. */
  pumping = false;

  constructor(
    readonly name: string,
    readonly handler: ServiceHandler,
    readonly options: ResolvedProvideOptions,
    private readonly advertising: () => Promise<boolean>,
    readonly release: () => Promise<void>,
  ) {}

  get advertised(): Promise<boolean> {
    return this.advertising();
  }

  get queued(): number {
    return this.waiting.length;
  }

  stop(): Promise<void> {
    return this.release();
  }
}

/**
 * The provider side of PeerServices: the services it provides and the calls it serves, keyed by (caller, call id).
 * At most `concurrency` handlers of a service run at once; more wait FIFO up to `maxQueued`, then BUFFER_FULL.
 */
export class ServiceProvider {
  private readonly services = new Map<string, ProvidedService>();
  /** Calls held (running or queued), by caller then call id: what a cancel or a lost connection ends. */
  private readonly calls = new Map<string, Map<number, { service: ProvidedService; call: ServedCall }>>();

  constructor(private readonly host: ProviderHost) {}

  has(name: string): boolean {
    return this.services.has(name);
  }

  add(name: string, handler: ServiceHandler, options: ResolvedProvideOptions, advertised: () => Promise<boolean>, release: (service: Provision) => Promise<void>): Provision {
    const service: ProvidedService = new ProvidedService(name, handler, options, advertised, () => release(service));
    this.services.set(name, service);
    return service;
  }

  /** Stops a service: new calls get NOT_FOUND, those it holds end with UNAVAILABLE. */
  remove(service: Provision): void {
    const provided = service as ProvidedService;
    if (this.services.get(provided.name) !== provided) return;
    provided.stopped = true;
    this.services.delete(provided.name);
    for (const [caller, held] of this.calls) {
      for (const [id, entry] of held) {
        if (entry.service !== provided) continue;
        this.end(caller, id, { t: 'error', id, code: 'UNAVAILABLE', message: `Service "${provided.name}" stopped on ${this.host.eva} while the call was held; call again elsewhere.`, gone: true });
      }
    }
  }

  /** A call frame from `caller`. */
  onCall(caller: string, frame: Extract<Frame, { t: 'call' }>): void {
    const { id } = frame;
    if (this.calls.get(caller)?.has(id)) {
      this.host.reply(caller, { t: 'error', id, code: 'PROTOCOL', message: `Call id ${id} is already in use by ${caller} on ${this.host.eva}; a caller numbers its calls uniquely.` });
      return;
    }
    const service = this.services.get(frame.service);
    if (!service) {
      this.host.reply(caller, { t: 'error', id, code: 'NOT_FOUND', message: `${this.host.eva} provides no service "${frame.service}". Check the name, or find a provider with callAny.` });
      return;
    }
    const allow = service.options.allow;
    if (allow && !this.allowed(allow, caller, service.name)) {
      this.host.reply(caller, { t: 'error', id, code: 'FORBIDDEN', message: `${this.host.eva} does not let ${caller} call "${service.name}".` });
      return;
    }
    if (service.running >= service.options.concurrency && service.waiting.length >= service.options.maxQueued) {
      this.host.reply(caller, {
        t: 'error',
        id,
        code: 'BUFFER_FULL',
        message: `Service "${service.name}" on ${this.host.eva} runs ${service.running} calls and has ${service.waiting.length} waiting, the most it queues. Retry later, or call another provider.`,
      });
      return;
    }
    const call: ServedCall = { caller, id, params: frame.params, controller: null, ended: null, timer: null, done: false, queued: false };
    let held = this.calls.get(caller);
    if (!held) this.calls.set(caller, (held = new Map()));
    held.set(id, { service, call });
    if (service.running < service.options.concurrency) this.run(service, call);
    else {
      call.queued = true;
      service.waiting.push(call);
    }
  }

  /** The caller gave up on a call (cancelled, or its timeout passed): its signal fires, nothing more is sent. */
  onCancel(caller: string, id: number): void {
    this.end(caller, id, null);
  }

  /** The connection to `caller` was lost: every call it had here is aborted, none is answered. */
  lost(caller: string): void {
    const held = this.calls.get(caller);
    if (!held) return;
    for (const id of [...held.keys()]) this.end(caller, id, null);
  }

  /** PeerServices closes: every service stops. */
  close(): void {
    for (const service of [...this.services.values()]) this.remove(service);
  }

  private run(service: ProvidedService, call: ServedCall): void {
    service.running++;
    const { caller, id } = call;
    if (service.options.timeoutMs > 0) {
      call.timer = setTimeout(() => {
        this.end(caller, id, {
          t: 'error',
          id,
          code: 'TIMEOUT',
          message: `Service "${service.name}" on ${this.host.eva} ran longer than its timeoutMs (${service.options.timeoutMs} ms); the call was aborted there.`,
        });
      }, service.options.timeoutMs);
    }
    const context = new CallContext(caller, service.name, call, this.host);
    let result: unknown;
    let failed = false;
    let thenable = false;
    try {
      result = service.handler(call.params, context);
      thenable = isThenable(result);
    } catch (err) {
      result = err;
      failed = true;
    }
    if (!thenable) {
      // A handler that answers at once is answered in this turn, with no promise: its result leaves in the frame
      // that carries the turn's other answers.
      try {
        this.end(caller, id, failed ? this.failure(service, call, result) : { t: 'result', id, value: result });
      } finally {
        this.settled(service);
      }
      return;
    }
    Promise.resolve(result)
      .then(
        (value) => this.end(caller, id, { t: 'result', id, value }),
        (err: unknown) => this.end(caller, id, this.failure(service, call, err)),
      )
      .finally(() => this.settled(service));
  }

  /**
   * A handler settled: its slot is free for the next call in line. The slot is the handler's until then, even when
   * the call was given up earlier: a handler that ignores its signal still counts against `concurrency`.
   */
  private settled(service: ProvidedService): void {
    service.running--;
    this.pump(service);
  }

  /** Starts the calls in line while slots are free. */
  private pump(service: ProvidedService): void {
    // Handlers that settle at once free their slots inside run(): this loop, not a nested one, starts the next call.
    if (service.pumping) return;
    service.pumping = true;
    try {
      while (!service.stopped && service.running < service.options.concurrency && service.waiting.length > 0) {
        const next = service.waiting.shift()!;
        next.queued = false;
        this.run(service, next);
      }
    } finally {
      service.pumping = false;
    }
  }

  /**
   * Ends a held call: answers it with `frame` (none: given up) and fires its signal; a queued one leaves the queue
   * without running. Called for every way a call ends; only the first counts.
   */
  private end(caller: string, id: number, frame: Frame | null): void {
    const held = this.calls.get(caller);
    const entry = held?.get(id);
    if (!entry) return;
    const { service, call } = entry;
    if (call.done) return;
    call.done = true;
    held!.delete(id);
    if (held!.size === 0) this.calls.delete(caller);
    if (call.timer) clearTimeout(call.timer);
    if (call.queued) {
      call.queued = false;
      service.waiting.splice(service.waiting.indexOf(call), 1);
    }
    if (frame) this.sendResult(caller, frame);
    call.ended = frame;
    if (call.controller && !call.controller.signal.aborted) call.controller.abort(abortReason(frame));
  }

  private sendResult(caller: string, frame: Frame): void {
    try {
      if (this.host.reply(caller, frame)) return;
    } catch (err) {
      // A result the stack cannot carry (not JSON, too large): the caller is told why instead of waiting for its timeout.
      if (frame.t === 'result' && VnfError.is(err)) {
        // Sent as a result is: if this cannot leave either, it is logged, never thrown at the handler's turn.
        this.sendResult(caller, { t: 'error', id: frame.id, code: err.code, message: `The result could not be sent: ${err.message}` });
        return;
      }
      log('%s could not answer call %d of %s: %O', this.host.eva, frame.id, caller, err);
    }
  }

  private failure(service: ProvidedService, call: ServedCall, err: unknown): Frame {
    if (VnfError.is(err)) return { t: 'error', id: call.id, code: err.code, message: err.message };
    // Details stay here: a caller learns only that the provider failed.
    log('service %s on %s failed a call of %s: %O', service.name, this.host.eva, call.caller, err);
    return { t: 'error', id: call.id, code: 'INTERNAL', message: `Service "${service.name}" on ${this.host.eva} failed; its log says why.` };
  }

  private allowed(allow: (caller: string) => boolean, caller: string, name: string): boolean {
    let allowed = false;
    callUserListener(this.host.emitter, () => {
      allowed = allow(caller) === true;
    }, `the allow function of service ${name}`);
    return allowed;
  }
}

/** True for a promise or any thenable, which Promise.resolve would adopt. */
function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

function abortReason(frame: Frame | null): VnfError {
  if (frame?.t === 'error' && frame.code === 'TIMEOUT') return new VnfError('TIMEOUT', frame.message);
  if (frame?.t === 'error' && frame.code === 'UNAVAILABLE') return new VnfError('UNAVAILABLE', frame.message);
  if (frame) return new VnfError('CANCELLED', 'The call is over.');
  return new VnfError('CANCELLED', 'The caller cancelled the call, its timeout passed, or it went away.');
}
