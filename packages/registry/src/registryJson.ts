import type { RegistryChange, RegistryEntry, StoredRecord } from '@vnf/core';

/*
 * The registry's entries as JSON text on their way to the wire: the broker forwards changes and list pages built
 * from the stored JSON, without parsing each value and serializing it again.
 */

/**
 * Where a change carries its entry already serialized (JSON text, shared by every watcher of the change). Watchers
 * that forward changes over the wire read it instead of serializing `entry` again.
 */
export const ENTRY_JSON: unique symbol = Symbol('vnf.registry.entryJson');

/** The entry of `change` as JSON text: shared by the store when it can, else serialized here. */
export function changeEntryJson(change: RegistryChange): string {
  return (change as RegistryChange & { [ENTRY_JSON]?: string })[ENTRY_JSON] ?? JSON.stringify(change.entry);
}

/**
 * A result already serialized: the broker puts `json` into its reply as it is. Anything else that serializes it
 * (JSON.stringify) gets the value it stands for.
 */
export class RawJson {
  private text: string | null = null;

  constructor(private readonly build: () => string) {}

  get json(): string {
    return (this.text ??= this.build());
  }

  toJSON(): unknown {
    return JSON.parse(this.json) as unknown;
  }
}

/** A page of a collection as JSON text, with the name to list after for the next page (none: the last page). */
export class PageJson extends RawJson {
  constructor(
    build: () => string,
    readonly next: string | undefined,
  ) {
    super(build);
  }
}

export const FORWARD: unique symbol = Symbol('vnf.registry.forward');

/** A watcher that only passes changes on as text: the store calls its `[FORWARD]` with the entry's JSON, when it can. */
export interface ForwardingWatcher {
  (change: RegistryChange): void;
  /** `revision`: the change's store revision, given for watches with options (RegistryRules' WatchFeed). */
  [FORWARD]: (type: RegistryChange['type'], entryJson: () => string, revision?: number) => void;
}

/**
 * A watcher for any store that passes each change on as JSON text (the broker's sessions): RegistryRules calls
 * `forward` without building a change object for it, and `entryJson()` serializes the entry once for every such
 * watcher of the change. Another store calls the returned function with a change, as any watcher.
 */
export function forwardingWatcher(forward: ForwardingWatcher[typeof FORWARD]): ForwardingWatcher {
  const watcher = ((change: RegistryChange) => forward(change.type, () => changeEntryJson(change), change.revision)) as ForwardingWatcher;
  watcher[FORWARD] = forward;
  return watcher;
}

const sharedJson = new WeakMap<StoredRecord, string>();

/** entryJson, kept for the record object: every watch told one change shares one text. */
export function sharedEntryJson(stored: StoredRecord): string {
  let json = sharedJson.get(stored);
  if (json === undefined) sharedJson.set(stored, (json = entryJson(stored)));
  return json;
}

/** The JSON of an entry as `toEntry` then JSON.stringify would give it, without parsing the stored value. */
export function entryJson(stored: StoredRecord): string {
  const { collection, name, owner, version, json } = stored;
  const retained = stored.retained ? ',"retained":true' : '';
  return `{"collection":${JSON.stringify(collection)},"name":${JSON.stringify(name)},"value":${json},"owner":${JSON.stringify(owner)},"version":${version}${retained}}`;
}

/** The entry a client sees: a fresh parse of the stored JSON. */
export function toEntry(stored: StoredRecord): RegistryEntry {
  const entry: RegistryEntry = { collection: stored.collection, name: stored.name, value: JSON.parse(stored.json) as unknown, owner: stored.owner, version: stored.version };
  if (stored.retained) entry.retained = true;
  return entry;
}

/**
 * A change as a watcher gets it: `entry` is its own copy, parsed when first read, so a watcher that only forwards
 * the change (through `changeEntryJson`) never parses the value, and a large change seen by many watchers is not
 * parsed once for each.
 */
export function changeOf(type: RegistryChange['type'], stored: StoredRecord, shared: () => string): RegistryChange {
  let entry: RegistryEntry | undefined;
  const change = { type } as RegistryChange;
  Object.defineProperty(change, 'entry', { enumerable: true, get: () => (entry ??= toEntry(stored)) });
  Object.defineProperty(change, ENTRY_JSON, { enumerable: false, get: shared });
  return change;
}
