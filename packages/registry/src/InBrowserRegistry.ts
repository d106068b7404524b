import { VnfError, validateEva, type RegistryClient, type RegistryStore } from '@vnf/core';
import { MemoryRegistryStore, type MemoryRegistryStoreOptions } from './MemoryRegistryStore';
import { InBrowserRegistryClient } from './InBrowserRegistryClient';

export interface InBrowserRegistryOptions extends MemoryRegistryStoreOptions {
  /**
   * The store holding the entries. Default: a new MemoryRegistryStore built from the limits in these options.
   * Give either a store or limits, not both.
   */
  store?: RegistryStore;
}

/**
 * A registry in this process's memory, for tests and single-page apps. It keeps the same rules as the
 * broker's registry (the same store) and behaves like the network: calls are asynchronous, values are
 * copied, watchers are told on a later turn.
 */
export class InBrowserRegistry {
  readonly store: RegistryStore;
  private readonly clients = new Map<string, InBrowserRegistryClient>();

  constructor(options: InBrowserRegistryOptions = {}) {
    if (typeof options !== 'object' || options === null) {
      throw new VnfError('INVALID_ARGUMENT', 'InBrowserRegistry takes an options object (or nothing).');
    }
    const { store, ...limits } = options;
    if (store !== undefined) {
      if (Object.values(limits).some((v) => v !== undefined)) {
        throw new VnfError('INVALID_ARGUMENT', 'Give InBrowserRegistry either a store or store limits, not both: set the limits on your store.');
      }
      this.store = store;
    } else {
      this.store = new MemoryRegistryStore(limits);
    }
    this.connect = this.connect.bind(this);
  }

  /**
   * A client whose entries are owned by `eva`. Throws EVA_IN_USE while another open client of this
   * registry speaks for the same eva (the broker allows one live channel per eva too).
   */
  connect(eva: string): RegistryClient {
    validateEva(eva);
    if (this.clients.has(eva)) {
      throw new VnfError('EVA_IN_USE', `A registry client for "${eva}" is already open on this registry. Close it first or use another eva.`, {
        details: { eva },
      });
    }
    const client = new InBrowserRegistryClient(this.store, eva, () => {
      if (this.clients.get(eva) === client) this.clients.delete(eva);
    });
    this.clients.set(eva, client);
    return client;
  }
}
