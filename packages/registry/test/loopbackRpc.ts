import { VnfError, createMacrotaskQueue, type Rpc } from '@vnf/core';
import type { RegistryService, RegistrySession } from '@vnf/registry';

/**
 * An in-process Rpc connected to a RegistryService, standing in for WebSocketRpc + broker: params, results
 * and notifications cross as JSON, answers and notifications arrive in order on a later turn, errors keep
 * only code and message. `drop()` and `restore()` act out a lost and re-established channel.
 */
export class LoopbackRpc implements Rpc {
  readonly eva: string;
  /** Every call made, in order: `[method, params]`. */
  readonly calls: Array<[string, unknown]> = [];
  private session: RegistrySession | null;
  private readonly notificationListeners = new Set<(method: string, params: unknown) => void>();
  private readonly stateListeners = new Set<(state: 'up' | 'down') => void>();
  private readonly later = createMacrotaskQueue();
  private closed = false;

  constructor(private readonly service: RegistryService, eva: string) {
    this.eva = eva;
    this.session = this.openSession();
  }

  async call(method: string, params: unknown): Promise<unknown> {
    if (this.closed) throw new VnfError('DESTROYED', 'rpc closed');
    const session = this.session;
    if (!session || this.suspended) throw new VnfError('UNAVAILABLE', 'rpc down');
    if (!this.service.handles(method)) throw new VnfError('PROTOCOL', `unknown method ${method}`);
    const wireParams = overWire(params);
    this.calls.push([method, wireParams]);
    const answer = session.handle(method, wireParams).then(
      (result) => ({ ok: true as const, json: JSON.stringify(result) }),
      (err: unknown) => ({ ok: false as const, error: VnfError.is(err) ? new VnfError(err.code, err.message) : err }),
    );
    const settled = await answer;
    return new Promise((resolve, reject) => {
      this.later(() => (settled.ok ? resolve(JSON.parse(settled.json) as unknown) : reject(settled.error)));
    });
  }

  onNotification(listener: (method: string, params: unknown) => void): () => void {
    this.notificationListeners.add(listener);
    return () => this.notificationListeners.delete(listener);
  }

  onStateChange(listener: (state: 'up' | 'down') => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /**
   * The channel drops: the broker closes the session (removing its entries) and the client hears `down`. `unclean`:
   * the channel was lost and its grace ran out, so the session's wills apply (`session.close({ applyWills: true })`).
   */
  async drop(options: { unclean?: boolean } = {}): Promise<void> {
    const session = this.session;
    this.session = null;
    await session?.close(options.unclean ? { applyWills: true } : undefined);
    for (const listener of [...this.stateListeners]) listener('down');
  }

  /** While true the channel is down but the broker keeps the session (its grace): calls fail, notifications are lost. */
  private suspended = false;

  /**
   * The channel drops and the broker keeps the session for a reconnect: as the broker does, the session's waiting
   * writes end (`endWaits`), and the client hears `down`; `resume()` brings it back.
   */
  interrupt(): void {
    this.suspended = true;
    this.session?.endWaits();
    for (const listener of [...this.stateListeners]) listener('down');
  }

  /** The channel comes back within the grace, to the same session; the client hears `up`. */
  resume(): void {
    this.suspended = false;
    for (const listener of [...this.stateListeners]) listener('up');
  }

  /** The channel blinks: the client hears `down` then `up`, but the broker kept the session. */
  blink(): void {
    for (const listener of [...this.stateListeners]) listener('down');
    for (const listener of [...this.stateListeners]) listener('up');
  }

  /** The channel comes back with a fresh session; the client hears `up`. */
  restore(): void {
    this.session = this.openSession();
    for (const listener of [...this.stateListeners]) listener('up');
  }

  /** A notification from the broker itself (not from a watch), as `registry.resync` is. */
  push(method: string, params: unknown): void {
    const json = JSON.stringify(params);
    this.later(() => {
      for (const listener of [...this.notificationListeners]) listener(method, JSON.parse(json) as unknown);
    });
  }

  /** Like `endpoint.getWebSocketRpc()`: close() leaves the channel (and its session) open for its other users. */
  shared = false;

  async close(): Promise<void> {
    if (this.closed || this.shared) return;
    this.closed = true;
    const session = this.session;
    this.session = null;
    await session?.close();
  }

  private openSession(): RegistrySession {
    const session: RegistrySession = this.service.openSession(this.eva, (method, json) => {
      this.later(() => {
        // Lost with the channel: what was on its way when it dropped, and what was sent while it was down.
        if (this.session !== session || this.suspended) return;
        for (const listener of [...this.notificationListeners]) listener(method, JSON.parse(json) as unknown);
      });
    });
    return session;
  }
}

function overWire(params: unknown): unknown {
  const json = JSON.stringify(params);
  return json === undefined ? undefined : (JSON.parse(json) as unknown);
}
