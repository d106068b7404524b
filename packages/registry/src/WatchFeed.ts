import type { RegistryChange, RegistryEntry, RegistrySnapshotWatcher, RegistryWatchEvent, StorageChange, StoredRecord } from '@vnf/core';
import { matchesFields } from './registryMatch';
import { changeOf, sharedEntryJson, toEntry } from './registryJson';

/** What a feed needs of the rules: the log, pages, and whom to tell. */
export interface WatchFeedHost {
  changesSince(revision: number, limit: number): Promise<{ changes: StorageChange[]; truncated: boolean; revision: number }>;
  page(collection: string, after: string | undefined): Promise<{ records: StoredRecord[]; next?: string; revision: number }>;
  /** Tells the user's watcher, guarded. */
  tell(watcher: RegistrySnapshotWatcher, event: RegistryWatchEvent): void;
  /** Runs a watcher's code guarded, as `tell` does. */
  guard(fn: () => void): void;
}

export interface WatchFeedOptions {
  snapshot: boolean;
  filter?: Record<string, unknown>;
  from?: number;
  /**
   * For a watcher that only passes changes on as text (the broker's sessions): called instead of building a change
   * object, with the entry's JSON shared by every watch of the change.
   */
  forward?: (type: RegistryChange['type'], entryJson: () => string, revision: number) => void;
}

/** Changes read from the log at once when a watch resumes. */
const LOG_BATCH = 1000;

/**
 * One watch with options (snapshot, filter, resume from a revision): changes from the storage subscription are
 * held while the feed starts, the snapshot or the log's replay is read, and the held changes then follow, each
 * told once, in revision order, with no gap. A filter turns the collection into the view of its matching entries:
 * an entry updated out of it is told as removed, one updated into it as added.
 */
export class WatchFeed {
  private held: StorageChange[] | null = [];
  /** The last revision told (or covered by the snapshot): a change at or below it is not told again. */
  private told = 0;
  private stopped = false;

  constructor(
    private readonly collection: string,
    private readonly watcher: RegistrySnapshotWatcher,
    private readonly options: WatchFeedOptions,
    private readonly host: WatchFeedHost,
  ) {}

  /** The storage subscription's listener: subscribe it before `start`. */
  readonly onChange = (change: StorageChange): void => {
    if (this.stopped) return;
    if (this.held) this.held.push(change);
    else this.forward(change);
  };

  stop(): void {
    this.stopped = true;
    this.held = null;
  }

  /** Reads what comes before the live changes, tells it, then the changes held meanwhile. Resolves the revision the watch starts after. */
  async start(currentRevision: () => Promise<number>): Promise<number> {
    const { from, snapshot } = this.options;
    let resync = false;
    if (from !== undefined) {
      const replayed = await this.replay(from);
      if (replayed === null) resync = true;
      else this.told = replayed;
    }
    if (snapshot && (from === undefined || resync)) await this.tellSnapshot(resync);
    else if (resync) {
      // A watch without snapshot learns only that it missed changes: its client lists again (the `resync` event).
      this.told = await currentRevision();
      if (!this.stopped) this.host.tell(this.watcher, { type: 'snapshot', entries: [], revision: this.told, resync: true });
    } else if (from === undefined) this.told = await currentRevision();
    const held = this.held ?? [];
    this.held = null;
    for (const change of held) this.forward(change);
    return this.told;
  }

  /** Reads the log after `from`; tells this collection's changes; null when the log no longer holds them all. */
  private async replay(from: number): Promise<number | null> {
    const changes: StorageChange[] = [];
    let after = from;
    for (;;) {
      const batch = await this.host.changesSince(after, LOG_BATCH);
      if (batch.truncated) return null;
      for (const change of batch.changes) if (change.record.collection === this.collection) changes.push(change);
      if (batch.changes.length < LOG_BATCH) {
        after = Math.max(after, batch.revision);
        break;
      }
      after = batch.changes[batch.changes.length - 1].revision;
    }
    this.told = from;
    for (const change of changes) this.forward(change);
    return Math.max(this.told, after);
  }

  /**
   * The entries at one revision: pages are read one after another, each at its own revision, and the changes held
   * since the subscription bring every page forward to the last page's revision.
   */
  private async tellSnapshot(resync: boolean): Promise<void> {
    const pages: Array<{ records: StoredRecord[]; upTo?: string; revision: number }> = [];
    let after: string | undefined;
    for (;;) {
      const page = await this.host.page(this.collection, after);
      pages.push({ records: page.records, upTo: page.next, revision: page.revision });
      if (page.next === undefined) break;
      after = page.next;
    }
    const revision = pages[pages.length - 1].revision;
    const state = new Map<string, StoredRecord>();
    for (const page of pages) for (const record of page.records) state.set(record.name, record);
    for (const change of this.held ?? []) {
      if (change.revision > revision) continue;
      const name = change.record.name;
      const page = pages.find((p) => p.upTo === undefined || name <= p.upTo)!;
      if (change.revision <= page.revision) continue;
      if (change.type === 'removed') state.delete(name);
      else state.set(name, change.record);
    }
    const names = [...state.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const entries: RegistryEntry[] = [];
    for (const name of names) {
      const record = state.get(name)!;
      if (this.matches(record)) entries.push(toEntry(record));
    }
    this.told = Math.max(this.told, revision);
    if (!this.stopped) this.host.tell(this.watcher, { type: 'snapshot', entries, revision, resync });
  }

  private forward(change: StorageChange): void {
    if (this.stopped || change.revision <= this.told) return;
    this.told = change.revision;
    const type = this.viewType(change);
    if (!type) return;
    const record = change.record;
    const forward = this.options.forward;
    if (forward) {
      this.host.guard(() => forward(type, () => sharedEntryJson(record), change.revision));
      return;
    }
    // The entry parsed only if the watcher reads it.
    const event = changeOf(type, record, () => sharedEntryJson(record));
    event.revision = change.revision;
    this.host.tell(this.watcher, event);
  }

  /** How a change looks through the filter: undefined when the watcher's view does not change. */
  private viewType(change: StorageChange): RegistryChange['type'] | undefined {
    if (!this.options.filter) return change.type;
    const now = change.type !== 'removed' && this.matches(change.record);
    // A storage that does not say what an update replaced: the entry may have been in the view, so it leaves it.
    const before = change.type === 'added' ? false : change.type === 'removed' ? this.matches(change.record) : change.previous ? this.matches(change.previous) : !now;
    if (before && now) return 'updated';
    if (now) return 'added';
    if (before) return 'removed';
    return undefined;
  }

  private matches(record: StoredRecord): boolean {
    const filter = this.options.filter;
    return !filter || matchesFields(JSON.parse(record.json) as unknown, filter);
  }
}
