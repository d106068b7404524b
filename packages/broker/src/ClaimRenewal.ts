import { createLogger, type RegistryStorage, type RegistryStore } from '@vnf/core';
import type { ClientConnection } from './ClientConnection';
import type { Router } from '@vnf/protocol';

const log = createLogger('broker');

/**
 * Keeps what this broker holds alive on shared storage: every third of `ttlMs` it renews the router claims of its
 * sockets (registered, or reserved in their grace) and the owner leases of their registry entries. A broker of a
 * cluster that dies stops renewing, so its evas and entries free themselves `ttlMs` later instead of never.
 */
export class ClaimRenewal {
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly storage: RegistryStorage | null;

  constructor(
    private readonly router: Router,
    store: RegistryStore,
    private readonly ttlMs: number,
    private readonly held: () => Iterable<ClientConnection>,
  ) {
    // A store with its rules over a RegistryStorage (RegistryRules, MemoryRegistryStore) has owner leases.
    const storage = (store as { storage?: RegistryStorage }).storage;
    this.storage = storage && typeof storage.keepAlive === 'function' ? storage : null;
  }

  start(): void {
    if (this.timer || !Number.isFinite(this.ttlMs)) return;
    this.timer = setInterval(() => this.renew(), Math.max(1, Math.floor(this.ttlMs / 3)));
    // Renewal must not keep a process alive by itself; the broker's server does.
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** A registry session began for `owner`: its entries get a lease at once, not at the next renewal. */
  leaseOwner(owner: string): void {
    if (!this.storage || !Number.isFinite(this.ttlMs)) return;
    this.storage.keepAlive(owner, this.ttlMs).catch((err: unknown) => log('leasing the entries of %s failed: %s', owner, String(err)));
  }

  private renew(): void {
    const claims = [];
    const owners = new Set<string>();
    for (const conn of this.held()) {
      claims.push({ role: conn.role, eva: conn.eva, id: conn.id });
      if (conn.registry) owners.add(conn.eva);
    }
    if (claims.length > 0) this.router.renew(claims, this.ttlMs).catch((err: unknown) => log('renewing %d claims failed: %s', claims.length, String(err)));
    for (const owner of owners) this.leaseOwner(owner);
  }
}
