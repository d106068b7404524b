import { VnfError, callUserListener, type ErrorCode, type ErrorEmitter } from '@vnf/core';
import type { Frame } from './frames';
import type { CallOptions } from './types';

/** What the caller side needs of PeerServices. */
export interface CallerHost {
  readonly eva: string;
  readonly emitter: ErrorEmitter;
  /** Resolves once the endpoint is connected to `targetEva` (rejects with why not); null when it is already. */
  connect(targetEva: string): Promise<void> | null;
  /** Sends a frame to a provider; throws what the channel throws. */
  send(targetEva: string, frame: Frame): void;
}

/** One call this endpoint made and has not heard the end of. */
interface PendingCall {
  target: string;
  service: string;
  onProgress: CallOptions['onProgress'];
  resolve(value: unknown): void;
  reject(error: unknown): void;
  /** True once the call frame left: from then on the provider may have run it. */
  sent: boolean;
  timer: ReturnType<typeof setTimeout> | null;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | null;
  /** Rejections are plain VnfErrors (`call`), or CallUndelivered where the provider was lost (`callAny` retries on it). */
  plainErrors: boolean;
}

/** A call whose provider was lost, or that could not reach it: `delivered` says whether the provider may have run it. */
export class CallUndelivered extends VnfError {
  constructor(
    readonly delivered: boolean,
    code: ErrorCode,
    message: string,
  ) {
    super(code, message);
  }
}

/**
 * The caller side of PeerServices: the calls in flight, by id, with their timeouts, signals and progress; a provider's
 * connection lost ends its calls with UNAVAILABLE. At most `maxPending` at once.
 */
export class ServiceCaller {
  private readonly pending = new Map<number, PendingCall>();
  private nextId = 1;

  constructor(
    private readonly host: CallerHost,
    private readonly maxPending: number,
  ) {}

  /** Calls in flight to `target`: what `least-loaded` compares. */
  inFlightTo(target: string): number {
    let count = 0;
    for (const call of this.pending.values()) if (call.target === target) count++;
    return count;
  }

  /**
   * Calls `service` on `target`. Not an async function: a call on an open connection leaves in this turn and settles
   * with no promise hop of its own, which counts at tens of thousands of calls a second. `plainErrors`: reject with
   * a plain VnfError where the provider was lost, instead of CallUndelivered (which only `callAny` acts on).
   */
  call(target: string, service: string, params: unknown, timeoutMs: number, options: CallOptions, plainErrors = false): Promise<unknown> {
    const { signal, onProgress } = options;
    if (signal?.aborted) return Promise.reject(cancelled(service, target));
    if (this.pending.size >= this.maxPending) {
      return Promise.reject(
        new VnfError('BUFFER_FULL', `${this.host.eva} already has ${this.pending.size} service calls in flight, the most it allows (maxPendingCalls). Wait for some to end.`, {
          details: { limit: this.maxPending },
        }),
      );
    }
    const id = this.nextId++;
    let call!: PendingCall;
    const outcome = new Promise<unknown>((resolve, reject) => {
      call = { target, service, onProgress, resolve, reject, sent: false, timer: null, signal, onAbort: null, plainErrors };
    });
    this.pending.set(id, call);
    call.timer = setTimeout(
      () => this.giveUp(id, new VnfError('TIMEOUT', `Service "${service}" on ${target} did not answer within ${timeoutMs} ms; the call was cancelled there. Call with a longer timeoutMs, or check the provider.`, { details: { service, target, timeoutMs } })),
      timeoutMs,
    );
    if (signal) {
      call.onAbort = () => this.giveUp(id, cancelled(service, target));
      signal.addEventListener('abort', call.onAbort, { once: true });
    }
    let connecting: Promise<void> | null;
    try {
      connecting = this.host.connect(target);
    } catch (err) {
      this.notSent(id, target, err);
      return outcome;
    }
    if (connecting === null) this.dispatch(id, target, service, params);
    else
      connecting.then(
        () => this.dispatch(id, target, service, params),
        (err: unknown) => this.notSent(id, target, err),
      );
    return outcome;
  }

  /** A frame from a provider: progress, result or error of one of our calls. */
  onFrame(source: string, frame: Frame): void {
    if (frame.t === 'call' || frame.t === 'cancel') return;
    const call = this.pending.get(frame.id);
    // Only the provider the call went to answers it; anything else is late (the call ended) or not ours.
    if (!call || call.target !== source) return;
    if (frame.t === 'progress') {
      const onProgress = call.onProgress;
      if (onProgress) callUserListener(this.host.emitter, () => onProgress(frame.value), `the onProgress of a call to ${call.service}`);
      return;
    }
    this.pending.delete(frame.id);
    settle(call);
    if (frame.t === 'result') call.resolve(frame.value);
    // The provider stopped the service mid-call: as a lost provider (it may have run part of it), retried if idempotent.
    // (A handler's own UNAVAILABLE is its answer, not a lost provider.)
    else if (frame.gone) rejectUndelivered(call, true, frame.message);
    else call.reject(new VnfError(frame.code as ErrorCode, frame.message, { details: { service: call.service, target: source } }));
  }

  /** The connection to `target` was lost: its calls end UNAVAILABLE (the provider may have run those it got). */
  lost(target: string): void {
    for (const [id, call] of [...this.pending]) {
      if (call.target !== target) continue;
      this.pending.delete(id);
      settle(call);
      rejectUndelivered(
        call,
        call.sent,
        `The connection to ${target} was lost during a call to "${call.service}"; ${call.sent ? 'the provider may have run it' : 'it was never sent'}. Call again, elsewhere if need be.`,
      );
    }
  }

  /** PeerServices closes: every call in flight rejects DESTROYED. */
  close(): void {
    for (const [id, call] of [...this.pending]) {
      this.pending.delete(id);
      settle(call);
      if (call.sent) this.trySend(call.target, { t: 'cancel', id });
      call.reject(new VnfError('DESTROYED', `The PeerServices of ${this.host.eva} was closed during a call to "${call.service}".`));
    }
  }

  /** Sends the call frame once the connection is open, unless the call ended meanwhile. */
  private dispatch(id: number, target: string, service: string, params: unknown): void {
    const call = this.pending.get(id);
    if (!call) return;
    try {
      this.host.send(target, { t: 'call', id, service, params });
      call.sent = true;
    } catch (err) {
      this.notSent(id, target, err);
    }
  }

  /** The call could not leave (no connection, or the stack refused it). */
  private notSent(id: number, target: string, err: unknown): void {
    const reason = VnfError.is(err) ? err : new VnfError('INTERNAL', `The call to ${target} could not be sent: ${String(err)}`);
    const call = this.pending.get(id);
    if (!call) return;
    // Params the stack cannot carry are the caller's to fix; anything else kept the call from leaving (callAny may go elsewhere).
    if (reason.code === 'INVALID_PAYLOAD' || reason.code === 'TOO_LARGE') this.giveUp(id, reason);
    else this.giveUp(id, call.plainErrors ? new VnfError(reason.code, reason.message) : new CallUndelivered(false, reason.code, reason.message));
  }

  /** Ends a call from this side (timeout, cancel, not sent): a provider that got it is told to stop. */
  private giveUp(id: number, error: VnfError): void {
    const call = this.pending.get(id);
    if (!call) return;
    this.pending.delete(id);
    settle(call);
    // The provider stops working on it: its signal fires.
    if (call.sent) this.trySend(call.target, { t: 'cancel', id });
    call.reject(error);
  }

  private trySend(target: string, frame: Frame): void {
    try {
      this.host.send(target, frame);
    } catch {
      // The connection is gone: the provider ends the call itself when it notices.
    }
  }
}

/** The call ended: its timer and abort listener go. */
function settle(call: PendingCall): void {
  if (call.timer) clearTimeout(call.timer);
  call.timer = null;
  if (call.onAbort) call.signal!.removeEventListener('abort', call.onAbort);
  call.onAbort = null;
}

/** Rejects a call whose provider was lost: `delivered` says whether it may have run there. */
function rejectUndelivered(call: PendingCall, delivered: boolean, message: string): void {
  call.reject(call.plainErrors ? new VnfError('UNAVAILABLE', message) : new CallUndelivered(delivered, 'UNAVAILABLE', message));
}

function cancelled(service: string, target: string): VnfError {
  return new VnfError('CANCELLED', `The call to "${service}" on ${target} was cancelled; its provider was told to stop.`, { details: { service, target } });
}
