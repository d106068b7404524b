import { VnfError, callUserListener, type ErrorCode, type ErrorEmitter } from '@vnf/core';
import type { Channel } from './channel';
import type { BrokerMessage } from './protocol/messages';

/** Default time an RPC call waits for the broker's answer, ms. */
export const DEFAULT_CALL_TIMEOUT_MS = 10_000;

type Listener<A extends unknown[]> = (...args: A) => void;

interface Pending {
  resolve(value: unknown): void;
  reject(error: VnfError): void;
  timer: ReturnType<typeof setTimeout>;
  /** Sends the call; set while it waits for the first connection. */
  send?: () => void;
}

/** Request/response bookkeeping of one Rpc on one channel: ids, timeouts, state, notifications. */
export class RpcCalls {
  private readonly pending = new Map<number, Pending>();
  private readonly notificationListeners = new Set<Listener<[string, unknown]>>();
  private readonly stateListeners = new Set<Listener<['up' | 'down']>>();
  private destroyedError: VnfError | null = null;

  constructor(
    private readonly channel: Channel,
    private readonly eva: string,
    private readonly defaultTimeoutMs: number,
    /** Where a throwing notification or state listener is reported (LISTENER_ERROR). */
    private readonly errors: ErrorEmitter,
  ) {}

  call(method: string, params: unknown, options?: { timeoutMs?: number }): Promise<unknown> {
    if (this.destroyedError) return Promise.reject(this.destroyedError);
    if (typeof method !== 'string' || method.length === 0) {
      return Promise.reject(new VnfError('INVALID_ARGUMENT', 'An RPC method must be a non-empty string.'));
    }
    const timeoutMs = options?.timeoutMs ?? this.defaultTimeoutMs;
    if (!(timeoutMs > 0)) return Promise.reject(new VnfError('INVALID_ARGUMENT', `timeoutMs must be positive; got ${timeoutMs}.`));
    const state = this.channel.state;
    if (state === 'failed') return Promise.reject(this.channel.fatalError);
    if (state === 'closed') return Promise.reject(destroyed(this.eva));
    if (state === 'down') {
      return Promise.reject(new VnfError('UNAVAILABLE', `The broker connection of ${this.eva} is down and reconnecting; retry after the 'up' state change.`));
    }
    return new Promise((resolve, reject) => {
      const id = this.channel.callId();
      const send = (): void => this.channel.sendControl(params === undefined ? { t: 'call', id, method } : { t: 'call', id, method, params });
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new VnfError('TIMEOUT', `The broker did not answer ${method} within ${timeoutMs} ms. Retry, or raise timeoutMs.`, { details: { method, timeoutMs } }));
      }, timeoutMs);
      const entry: Pending = { resolve, reject, timer };
      this.pending.set(id, entry);
      if (state === 'up') send();
      else entry.send = send;
    });
  }

  onNotification(listener: (method: string, params: unknown) => void): () => void {
    if (typeof listener !== 'function') throw new VnfError('INVALID_ARGUMENT', 'onNotification takes a function.');
    this.notificationListeners.add(listener);
    return () => void this.notificationListeners.delete(listener);
  }

  onStateChange(listener: (state: 'up' | 'down') => void): () => void {
    if (typeof listener !== 'function') throw new VnfError('INVALID_ARGUMENT', 'onStateChange takes a function.');
    this.stateListeners.add(listener);
    return () => void this.stateListeners.delete(listener);
  }

  /** Handles result, failure and notify; returns false for other messages. */
  handleControl(message: BrokerMessage): boolean {
    switch (message.t) {
      case 'result':
      case 'failure': {
        const entry = this.pending.get(message.id);
        if (!entry) return true;
        this.pending.delete(message.id);
        clearTimeout(entry.timer);
        if (message.t === 'result') entry.resolve(message.result);
        else entry.reject(new VnfError(asCode(message.code), String(message.message ?? 'The broker refused the call.')));
        return true;
      }
      case 'notify':
        for (const listener of [...this.notificationListeners]) this.safely(() => listener(message.method, message.params));
        return true;
      default:
        return false;
    }
  }

  up(): void {
    for (const entry of this.pending.values()) {
      const send = entry.send;
      entry.send = undefined;
      send?.();
    }
    this.emitState('up');
  }

  down(): void {
    this.failAll(new VnfError('UNAVAILABLE', `The broker connection of ${this.eva} dropped before the answer came; retry after 'up'.`));
    this.emitState('down');
  }

  fatal(error: VnfError): void {
    this.failAll(error);
  }

  /** Rejects every call with DESTROYED and stops listening. Idempotent. */
  destroy(): void {
    if (this.destroyedError) return;
    this.destroyedError = destroyed(this.eva);
    this.failAll(this.destroyedError);
    this.notificationListeners.clear();
    this.stateListeners.clear();
  }

  private failAll(error: VnfError): void {
    const entries = [...this.pending.values()];
    this.pending.clear();
    for (const entry of entries) {
      clearTimeout(entry.timer);
      entry.reject(error);
    }
  }

  private emitState(state: 'up' | 'down'): void {
    for (const listener of [...this.stateListeners]) this.safely(() => listener(state));
  }

  private safely(fn: () => void): void {
    callUserListener(this.errors, fn, `the RPC channel of ${this.eva}`);
  }
}

function destroyed(eva: string): VnfError {
  return new VnfError('DESTROYED', `The RPC channel of ${eva} was closed. Create a new one.`);
}

function asCode(code: unknown): ErrorCode {
  return (typeof code === 'string' && code.length > 0 ? code : 'INTERNAL') as ErrorCode;
}
