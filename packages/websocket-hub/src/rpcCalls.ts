import { VnfError, callUserListener, utf8Length, type ErrorCode, type ErrorEmitter } from '@vnf/core';
import type { Channel } from './channel';
import { RECORD_HEADER_BYTES, type BrokerMessage } from '@vnf/protocol';

/** Default time an RPC call waits for the broker's answer, ms. */
export const DEFAULT_CALL_TIMEOUT_MS = 10_000;

type Listener<A extends unknown[]> = (...args: A) => void;

interface Pending {
  resolve(value: unknown): void;
  reject(error: VnfError): void;
  timer: ReturnType<typeof setTimeout>;
}

/** What an Rpc uses of its socket's channel. */
export type CallChannel = Pick<Channel, 'state' | 'fatalError' | 'maxFrame' | 'callId' | 'calls'>;

/**
 * Request/response bookkeeping of one Rpc on one channel: ids, timeouts, state, notifications. The channel's
 * CallQueue, shared by every Rpc of the socket, decides when a call leaves.
 */
export class RpcCalls {
  private readonly pending = new Map<number, Pending>();
  private readonly notificationListeners = new Set<Listener<[string, unknown]>>();
  private readonly stateListeners = new Set<Listener<['up' | 'down']>>();
  private destroyedError: VnfError | null = null;

  constructor(
    private readonly channel: CallChannel,
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
    const id = this.channel.callId();
    let text: string;
    try {
      // Serialized now, not when the call leaves: what cannot be sent is refused here, before a timer or a place
      // in the queue, and never throws later where other calls would suffer.
      text = callText(id, method, params, this.channel.maxFrame);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => {
      // Runs from the call, whether it waits in the queue or was sent.
      const timer = setTimeout(() => {
        this.pending.delete(id);
        this.channel.calls.withdraw(id);
        reject(new VnfError('TIMEOUT', `The broker did not answer ${method} within ${timeoutMs} ms. Retry, or raise timeoutMs.`, { details: { method, timeoutMs } }));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.channel.calls.submit(id, text);
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

  /** The socket is welcomed (the channel's CallQueue has sent what waited). */
  up(): void {
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
    const entries = [...this.pending];
    this.pending.clear();
    for (const [id, entry] of entries) {
      clearTimeout(entry.timer);
      this.channel.calls.withdraw(id);
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

/**
 * The `call` control message as JSON. Throws INVALID_PAYLOAD for params JSON cannot carry (cyclic, BigInt, a
 * throwing toJSON, a function or symbol), TOO_LARGE for a message no frame of the broker holds.
 */
function callText(id: number, method: string, params: unknown, maxFrame: number): string {
  let json: string | undefined;
  try {
    json = params === undefined ? undefined : JSON.stringify(params);
  } catch (cause) {
    throw new VnfError(
      'INVALID_PAYLOAD',
      `The params of ${method} cannot be sent: JSON.stringify failed (${String(cause)}). ` +
        'Pass a JSON value: no cycles, no BigInt (convert it to a string or number).',
      { cause, details: { method } },
    );
  }
  if (params !== undefined && json === undefined) {
    throw new VnfError('INVALID_PAYLOAD', `The params of ${method} cannot be sent: a ${typeof params} is not a JSON value. Pass a JSON value, or undefined for none.`, {
      details: { method },
    });
  }
  const text = `{"t":"call","id":${id},"method":${JSON.stringify(method)}${json === undefined ? '' : `,"params":${json}`}}`;
  const size = utf8Length(text) + RECORD_HEADER_BYTES;
  if (size > maxFrame) {
    throw new VnfError(
      'TOO_LARGE',
      `The call ${method} takes ${size} bytes, over the broker's frame limit of ${maxFrame} bytes: the broker would close the socket. Send smaller params.`,
      { details: { method, size, limit: maxFrame } },
    );
  }
  return text;
}

function destroyed(eva: string): VnfError {
  return new VnfError('DESTROYED', `The RPC channel of ${eva} was closed. Create a new one.`);
}

function asCode(code: unknown): ErrorCode {
  return (typeof code === 'string' && code.length > 0 ? code : 'INTERNAL') as ErrorCode;
}
