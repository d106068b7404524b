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
  reject(error: VnfError): void;
  /** True once the call frame left: from then on the provider may have run it. */
  sent: boolean;
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

  async call(target: string, service: string, params: unknown, timeoutMs: number, options: CallOptions): Promise<unknown> {
    const { signal, onProgress } = options;
    if (signal?.aborted) throw cancelled(service, target);
    if (this.pending.size >= this.maxPending) {
      throw new VnfError('BUFFER_FULL', `${this.host.eva} already has ${this.pending.size} service calls in flight, the most it allows (maxPendingCalls). Wait for some to end.`, {
        details: { limit: this.maxPending },
      });
    }
    const id = this.nextId++;
    let timer: ReturnType<typeof setTimeout> | null = null;
    let onAbort: (() => void) | null = null;
    const outcome = new Promise<unknown>((resolve, reject) => {
      this.pending.set(id, { target, service, onProgress, resolve, reject, sent: false });
    });
    // It may end while the connection opens, before it is awaited below: that must not count as unhandled.
    outcome.catch(() => undefined);
    const giveUp = (error: VnfError): void => {
      const call = this.pending.get(id);
      if (!call) return;
      this.pending.delete(id);
      // The provider stops working on it: its signal fires.
      if (call.sent) this.trySend(target, { t: 'cancel', id });
      call.reject(error);
    };
    timer = setTimeout(
      () => giveUp(new VnfError('TIMEOUT', `Service "${service}" on ${target} did not answer within ${timeoutMs} ms; the call was cancelled there. Call with a longer timeoutMs, or check the provider.`, { details: { service, target, timeoutMs } })),
      timeoutMs,
    );
    if (signal) {
      onAbort = () => giveUp(cancelled(service, target));
      signal.addEventListener('abort', onAbort, { once: true });
    }
    try {
      const connecting = this.host.connect(target);
      if (connecting) await connecting;
      const call = this.pending.get(id);
      if (call) {
        this.host.send(target, { t: 'call', id, service, params });
        call.sent = true;
      }
    } catch (err) {
      const reason = VnfError.is(err) ? err : new VnfError('INTERNAL', `The call to ${target} could not be sent: ${String(err)}`);
      // Params the stack cannot carry are the caller's to fix; anything else kept the call from leaving (callAny may go elsewhere).
      giveUp(reason.code === 'INVALID_PAYLOAD' || reason.code === 'TOO_LARGE' ? reason : new CallUndelivered(false, reason.code, reason.message));
    }
    try {
      return await outcome;
    } finally {
      if (timer) clearTimeout(timer);
      if (onAbort) signal!.removeEventListener('abort', onAbort);
    }
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
    if (frame.t === 'result') call.resolve(frame.value);
    // The provider stopped the service mid-call: as a lost provider (it may have run part of it), retried if idempotent.
    // (A handler's own UNAVAILABLE is its answer, not a lost provider.)
    else if (frame.gone) call.reject(new CallUndelivered(true, 'UNAVAILABLE', frame.message));
    else call.reject(new VnfError(frame.code as ErrorCode, frame.message, { details: { service: call.service, target: source } }));
  }

  /** The connection to `target` was lost: its calls end UNAVAILABLE (the provider may have run those it got). */
  lost(target: string): void {
    for (const [id, call] of [...this.pending]) {
      if (call.target !== target) continue;
      this.pending.delete(id);
      call.reject(
        new CallUndelivered(
          call.sent,
          'UNAVAILABLE',
          `The connection to ${target} was lost during a call to "${call.service}"; ${call.sent ? 'the provider may have run it' : 'it was never sent'}. Call again, elsewhere if need be.`,
        ),
      );
    }
  }

  /** PeerServices closes: every call in flight rejects DESTROYED. */
  close(): void {
    for (const [id, call] of [...this.pending]) {
      this.pending.delete(id);
      if (call.sent) this.trySend(call.target, { t: 'cancel', id });
      call.reject(new VnfError('DESTROYED', `The PeerServices of ${this.host.eva} was closed during a call to "${call.service}".`));
    }
  }

  private trySend(target: string, frame: Frame): void {
    try {
      this.host.send(target, frame);
    } catch {
      // The connection is gone: the provider ends the call itself when it notices.
    }
  }
}

function cancelled(service: string, target: string): VnfError {
  return new VnfError('CANCELLED', `The call to "${service}" on ${target} was cancelled; its provider was told to stop.`, { details: { service, target } });
}
