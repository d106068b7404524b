import { VnfError, option, optionsSchema, validateEva, type RegistryAccess, type RegistryAuthorize, type RegistryClient, type RegistryStore } from '@vnf/core';
import { MemoryRegistryStore, STORE_LIMIT_FIELDS, type MemoryRegistryStoreOptions } from './MemoryRegistryStore';
import { InBrowserRegistryClient } from './InBrowserRegistryClient';

export interface InBrowserRegistryOptions extends MemoryRegistryStoreOptions {
  /**
   * The store holding the entries. Give either a store or limits, not both.
   * @default a new MemoryRegistryStore built from the limits in these options
   */
  store?: RegistryStore;
  /**
   * Decides what each client may read and write, as the broker's `authorize` option does.
   * @default defaultAuthorize: anyone reads, owners write their own entries, nobody writes retained ones
   */
  authorize?: RegistryAuthorize;
}

const SCHEMA = optionsSchema('InBrowserRegistry', {
  store: option.object<RegistryStore>({ expected: 'a RegistryStore such as new MemoryRegistryStore()', check: (store) => typeof store.create === 'function' }),
  authorize: option.function<RegistryAuthorize>({ expected: 'a function (subject, action, resource) => boolean | Promise<boolean>' }),
  ...STORE_LIMIT_FIELDS,
});

/**
 * A registry in this process's memory, for tests and single-page apps. It keeps the same rules as the
 * broker's registry (the same store) and behaves like the network: calls are asynchronous, values are
 * copied, watchers are told on a later turn.
 */
export class InBrowserRegistry {
  readonly store: RegistryStore;
  /** The open clients of each eva: the eva's entries go when its last client closes. */
  private readonly clients = new Map<string, Set<InBrowserRegistryClient>>();
  private readonly authorize: RegistryAuthorize | undefined;

  constructor(options: InBrowserRegistryOptions = {}) {
    // Only what was given: the limits' defaults are the store's, and a store excludes them.
    const { store, authorize, ...limits } = SCHEMA.resolvePartial(options);
    this.authorize = authorize;
    if (store !== undefined) {
      if (Object.keys(limits).length > 0) throw SCHEMA.invalid('give either a store or store limits, not both: set the limits on your store.');
      this.store = store;
    } else {
      this.store = new MemoryRegistryStore(limits);
    }
    this.connect = this.connect.bind(this);
    this.drop = this.drop.bind(this);
  }

  /**
   * A client whose entries are owned by `eva`. Several clients may speak for one eva, as several channels may
   * over the broker (RegistryService shares an owner across sessions): the entries belong to the eva, any of
   * its clients may update or delete them, a closing client removes the entries it wrote, and the eva's
   * remaining entries go when its last client closes.
   */
  connect(eva: string): RegistryClient {
    validateEva(eva);
    const peers = this.clients.get(eva) ?? new Set<InBrowserRegistryClient>();
    this.clients.set(eva, peers);
    const authorize = this.authorize;
    const access: RegistryAccess | undefined = authorize && ((action, resource) => authorize({ eva }, action, resource));
    const client = new InBrowserRegistryClient(
      this.store,
      eva,
      () => {
        peers.delete(client);
        if (peers.size > 0) return false;
        if (this.clients.get(eva) === peers) this.clients.delete(eva);
        return true;
      },
      access,
    );
    peers.add(client);
    return client;
  }

  /**
   * Ends `client` uncleanly, as a lost channel whose grace ran out (for tests of wills and locks): it emits `down`,
   * its watches and waits end, it is closed, and when it was its eva's last client the eva's entries go, those
   * with a will becoming their will. Resolves once that is done.
   */
  drop(client: RegistryClient): Promise<void> {
    if (!(client instanceof InBrowserRegistryClient) || ![...(this.clients.get(client.owner) ?? [])].includes(client)) {
      if (client instanceof InBrowserRegistryClient && client.closed) return Promise.resolve();
      throw new VnfError('INVALID_ARGUMENT', 'drop takes a client this InBrowserRegistry connected.');
    }
    return client.dropUncleanly();
  }
}
