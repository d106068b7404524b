import { VnfError, createLogger, type RegistryClient, type RegistryWatchEvent } from '@vnf/core';

const log = createLogger('services:directory');

/** What a provider's registry entry holds. */
export interface Advertisement {
  info?: unknown;
}

/** The live providers of one service, kept by a snapshot watch of its collection. */
export interface ProviderList {
  providers: Map<string, Advertisement>;
  /**
   * Providers a call could not reach (their ad outlives them through the broker's grace): passed over while another
   * is left, until their ad changes.
   */
  unreachable: Set<string>;
  ready: Promise<void>;
  stop: Promise<() => Promise<void>>;
  /** Where round-robin goes on from. */
  turn: number;
}

/**
 * Where services are advertised and found: one registry collection per service (`prefix + name`), one entry per
 * provider named after its eva and owned by it, so an ad vanishes with its provider. `callAny` reads the live
 * providers from a snapshot watch, started at its first use and kept until close.
 */
export class ServiceDirectory {
  private readonly lists = new Map<string, ProviderList>();

  constructor(
    private readonly registry: RegistryClient,
    private readonly prefix: string,
  ) {}

  collectionOf(service: string): string {
    return `${this.prefix}${service}`;
  }

  /** Advertises this endpoint (the registry client's owner) as a provider of `service`. */
  async advertise(service: string, ad: Advertisement): Promise<void> {
    await this.registry.write({ collection: this.collectionOf(service), name: this.registry.owner }, ad);
  }

  async withdraw(service: string): Promise<void> {
    try {
      await this.registry.remove({ collection: this.collectionOf(service), name: this.registry.owner }, { when: { fields: {} } });
    } catch (err) {
      log('withdrawing %s from the registry failed: %O', service, err);
    }
  }

  /** The providers of `service` known now, in a stable order (their evas), after the first snapshot. */
  async providers(service: string): Promise<{ evas: string[]; list: ProviderList }> {
    let list = this.lists.get(service);
    if (!list) list = this.watch(service);
    await list.ready;
    return { evas: [...list.providers.keys()].sort(), list };
  }

  async close(): Promise<void> {
    const lists = [...this.lists.values()];
    this.lists.clear();
    await Promise.all(lists.map(async (list) => (await list.stop.catch(() => async () => undefined))()));
  }

  private watch(service: string): ProviderList {
    const providers = new Map<string, Advertisement>();
    let ready!: () => void;
    let failed!: (err: unknown) => void;
    const unreachable = new Set<string>();
    const list: ProviderList = {
      providers,
      unreachable,
      ready: new Promise<void>((resolve, reject) => {
        ready = resolve;
        failed = reject;
      }),
      stop: Promise.resolve(async () => undefined),
      turn: 0,
    };
    const onEvent = (event: RegistryWatchEvent): void => {
      if (event.type === 'snapshot') {
        providers.clear();
        unreachable.clear();
        for (const entry of event.entries) providers.set(entry.name, (entry.value ?? {}) as Advertisement);
        ready();
        return;
      }
      unreachable.delete(event.entry.name);
      if (event.type === 'removed') providers.delete(event.entry.name);
      else providers.set(event.entry.name, (event.entry.value ?? {}) as Advertisement);
    };
    list.stop = this.registry.watch(this.collectionOf(service), onEvent, { snapshot: true });
    list.stop.catch((err: unknown) => {
      // Not kept: the next callAny tries again.
      if (this.lists.get(service) === list) this.lists.delete(service);
      failed(VnfError.is(err) ? err : new VnfError('INTERNAL', `Could not watch the providers of ${service}: ${String(err)}`));
    });
    list.ready.catch(() => undefined);
    this.lists.set(service, list);
    return list;
  }
}
