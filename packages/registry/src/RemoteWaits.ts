import { VnfError, createLogger, type RegistryWriteResult, type Rpc } from '@vnf/core';
import { cancelledError, tooOld } from './clientRequests';
import { RegistryMethod, parseWriteReply, type RemoveParams, type WaitedNotification, type WriteParams } from './registryProtocol';

const log = createLogger('registry:websocket');

interface Pending {
  resolve(result: RegistryWriteResult): void;
  reject(error: unknown): void;
}

/**
 * The writes of a WebSocketRegistryClient waiting on the broker (answered WAITING): each settles with its
 * `registry.waited` notification, or UNAVAILABLE when the channel drops (the broker ended the wait with the session).
 */
export class RemoteWaits {
  private readonly pending = new Map<string, Pending>();
  private nextId = 1;

  /** `idPrefix` makes this client's wait ids its own on a channel other clients may share. */
  constructor(
    private readonly rpc: Rpc,
    private readonly owner: string,
    private readonly idPrefix: string,
  ) {}

  /**
   * A write or removal that may wait: a WAITING answer is followed by a `registry.waited` notification. The caller's
   * signal cancels it on the broker; a wait that wrote before the cancel reached it resolves with what it wrote.
   */
  async call(method: string, params: WriteParams | RemoveParams, signal: AbortSignal | undefined): Promise<RegistryWriteResult> {
    if (!params.wait) return this.answer(method, params, await this.callTooOld(method, params));
    if (signal?.aborted) throw cancelledError(params);
    const waitId = `${this.idPrefix}w${this.nextId++}`;
    const outcome = this.expect(waitId);
    // A rejection is handled where the outcome is awaited; until then it must not count as unhandled.
    outcome.catch(() => undefined);
    const onAbort = (): void => {
      this.rpc.call(RegistryMethod.CANCEL, { waitId }).then(
        (result) => {
          if ((result as { cancelled?: unknown } | null)?.cancelled === true) this.cancelled(waitId, cancelledError(params));
        },
        (err: unknown) => log('%s could not cancel wait %s: %O', this.owner, waitId, err),
      );
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const reply = parseWriteReply(method, await this.callTooOld(method, { ...params, waitId }));
      if (reply.status !== 'WAITING') {
        this.forget(waitId);
        return reply;
      }
      return await outcome;
    } catch (err) {
      this.forget(waitId);
      throw err;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  private answer(method: string, params: WriteParams | RemoveParams, result: unknown): RegistryWriteResult {
    const reply = parseWriteReply(method, result);
    if (reply.status === 'WAITING') throw new VnfError('PROTOCOL', `The broker answered ${method} WAITING for a write that does not wait (${params.collection}/${params.name}).`);
    return reply;
  }

  private async callTooOld(method: string, params: unknown): Promise<unknown> {
    try {
      return await this.rpc.call(method, params);
    } catch (err) {
      throw tooOld(err, method);
    }
  }


  /** Registered before the call: the outcome may come right after the WAITING answer. */
  private expect(waitId: string): Promise<RegistryWriteResult> {
    return new Promise<RegistryWriteResult>((resolve, reject) => this.pending.set(waitId, { resolve, reject }));
  }

  /** The call answered without waiting, or failed: nothing more comes for it. */
  private forget(waitId: string): void {
    this.pending.delete(waitId);
  }

  /** The wait was cancelled on the broker before it wrote. */
  private cancelled(waitId: string, error: VnfError): void {
    const pending = this.pending.get(waitId);
    this.pending.delete(waitId);
    pending?.reject(error);
  }

  settle(notification: WaitedNotification): void {
    const pending = this.pending.get(notification.waitId);
    if (!pending) return;
    this.pending.delete(notification.waitId);
    if ('result' in notification) pending.resolve(notification.result);
    else pending.reject(new VnfError(asCode(notification.error.code), notification.error.message));
  }

  /** The ids of the waits not settled yet. */
  ids(): string[] {
    return [...this.pending.keys()];
  }

  /** Every wait fails with `error` (the channel dropped, or the client closed). */
  failAll(error: () => VnfError): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const pending of all) pending.reject(error());
  }
}

function asCode(code: string): VnfError['code'] {
  return code as VnfError['code'];
}
