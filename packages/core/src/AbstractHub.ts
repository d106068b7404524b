import { VnfError } from './errors';
import { validateEva } from './eva';
import type { Endpoint, Hub } from './contract';

/**
 * Opens an endpoint of `hub` on behalf of a decorator hub. The user may open the same eva on `hub`
 * once more and gets this very endpoint back, to reach transport features such as `getWebSocketRpc()`
 * (the seed does this). Third-party hubs without this hook are opened normally.
 */
export const OPEN_SHARED = Symbol.for('vnf.openShared');

export function openInnerEndpoint<E extends Endpoint>(hub: Hub<E>, eva: string): E {
  const shared = (hub as unknown as { [OPEN_SHARED]?: (eva: string) => E })[OPEN_SHARED];
  return shared ? shared.call(hub, eva) : hub.openEndpoint(eva);
}

/** Eva bookkeeping shared by every hub: EVA_IN_USE, DESTROYED after close, close() destroys all endpoints. */
export abstract class AbstractHub<E extends Endpoint = Endpoint> implements Hub<E> {
  abstract readonly maxPayloadSize: number;
  abstract readonly highWaterMark: number;
  abstract readonly lowWaterMark: number;
  private readonly endpoints = new Map<string, E>();
  private readonly shareable = new Set<string>();
  private closing: Promise<void> | null = null;

  constructor() {
    this.openEndpoint = this.openEndpoint.bind(this);
    this.close = this.close.bind(this);
  }

  /** True once `close()` was called. */
  get closed(): boolean {
    return this.closing !== null;
  }

  openEndpoint(eva: string): E {
    if (this.closing) throw new VnfError('DESTROYED', 'This hub was closed; create a new hub to open endpoints.');
    validateEva(eva);
    const existing = this.endpoints.get(eva);
    if (existing) {
      if (this.shareable.delete(eva)) return existing;
      throw new VnfError('EVA_IN_USE', `Endpoint "${eva}" is already open in this hub. Destroy it first or use another eva.`, {
        details: { eva },
      });
    }
    const endpoint = this.createEndpoint(eva, () => {
      if (this.endpoints.get(eva) === endpoint) {
        this.endpoints.delete(eva);
        this.shareable.delete(eva);
      }
    });
    this.endpoints.set(eva, endpoint);
    return endpoint;
  }

  [OPEN_SHARED](eva: string): E {
    const endpoint = this.openEndpoint(eva);
    this.shareable.add(eva);
    return endpoint;
  }

  close(): Promise<void> {
    if (!this.closing) {
      const open = [...this.endpoints.values()];
      this.endpoints.clear();
      this.shareable.clear();
      for (const endpoint of open) endpoint.destroy();
      this.closing = Promise.resolve().then(() => this.closeHub());
    }
    return this.closing;
  }

  /** Creates the endpoint; call `release` when it is destroyed so the eva can be opened again. */
  protected abstract createEndpoint(eva: string, release: () => void): E;

  /** Releases hub-wide resources after every endpoint was destroyed. */
  protected closeHub(): Promise<void> | void {}
}
