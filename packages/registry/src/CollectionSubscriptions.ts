import { callUserListener, type ErrorEmitter, type RegistryChange, type RegistryStorage, type RegistryWatcher, type StorageChange, type StoredRecord } from '@vnf/core';
import { changeOf, entryJson, type FORWARD, type ForwardingWatcher } from './registryJson';

/** The store has no `error` event: what its watchers throw is rethrown on a microtask by callUserListener. */
const UNHEARD: ErrorEmitter = { listenerCount: () => 0, emit: () => false };

/** One subscriber of a collection: a user's watcher, a forwarding one (the broker's plain watches), or a feed's raw listener. */
export interface Subscriber {
  plain?: RegistryWatcher;
  forward?: ForwardingWatcher[typeof FORWARD];
  raw?: (change: StorageChange) => void;
}

/**
 * The watchers of each collection over one storage subscription per collection: each change is told to every
 * subscriber in the order the storage made the changes; the entry's JSON is built once for all that forward it.
 */
export class CollectionSubscriptions {
  private readonly collections = new Map<string, { set: Set<Subscriber>; stop: Promise<() => void> }>();

  constructor(private readonly storage: RegistryStorage) {}

  /** Subscribes one watcher to a collection, through one storage subscription per collection. */
  async subscribe(collection: string, subscriber: Subscriber): Promise<() => void> {
    // A copy: each subscription its own record.
    const own: Subscriber = { ...subscriber };
    let watched = this.collections.get(collection);
    if (!watched) {
      const set = new Set<Subscriber>();
      watched = { set, stop: this.storage.subscribe(collection, (change) => this.tell(set, change)) };
      this.collections.set(collection, watched);
    }
    watched.set.add(own);
    await watched.stop;
    const current = watched;
    return () => {
      current.set.delete(own);
      if (current.set.size > 0 || this.collections.get(collection) !== current) return;
      this.collections.delete(collection);
      void current.stop.then((stop) => stop());
    };
  }

  /** Tells the subscribers of a collection one change, in the order the storage made them. */
  private tell(set: Set<Subscriber>, change: StorageChange): void {
    if (set.size === 0) return;
    const record: StoredRecord = change.record;
    // Serialized once for every watcher that forwards it (the broker's sessions); parsed only for one that reads it.
    let json = '';
    const shared = (): string => (json ||= entryJson(record));
    const type: RegistryChange['type'] = change.type;
    // A copy: a watcher may stop its own or another watch while being told.
    for (const subscriber of [...set]) {
      if (!set.has(subscriber)) continue;
      const { forward, plain, raw } = subscriber;
      const what = `a watcher of collection ${record.collection}`;
      if (raw) callUserListener(UNHEARD, () => raw(change), what);
      else if (forward) callUserListener(UNHEARD, () => forward(type, shared), what);
      else if (plain) callUserListener(UNHEARD, () => plain(changeOf(type, record, shared)), what);
    }
  }
}
