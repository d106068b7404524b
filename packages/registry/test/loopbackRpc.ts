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
    if (!session) throw new VnfError('UNAVAILABLE', 'rpc down');
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

  /** The channel drops: the broker closes the session (removing its entries) and the client hears `down`. */
  async drop(): Promise<void> {
    const session = this.session;
    this.session = null;
    await session?.close();
    for (const listener of [...this.stateListeners]) listener('down');
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
        if (this.session !== session) return;
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
