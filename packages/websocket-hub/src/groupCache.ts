import type { WelcomeGroups } from '@vnf/protocol';

/**
 * One socket's broker groups (docs/protocol.md, Groups): the target lists an endpoint multicast to, each with the
 * group id the broker knows it by, at most the welcome's `groups.max` of them, the least recently used replaced
 * first. Definitions are control messages, which the broker limits per second: past a share of that budget a
 * list gets no group (its multicast goes as one record per target) rather than risk the socket being closed.
 */
export class GroupCache {
  /** The JSON of a target list (unambiguous for any evas) → its group id, least recently used first (Map order). */
  private readonly ids = new Map<string, string>();
  /** The list of the last lookup and its id: a room broadcasting again is found without building its JSON. */
  private lastList: readonly string[] | null = null;
  private lastId = '';
  private nextId = 0;
  private windowStart = 0;
  private definedInWindow = 0;

  /** Most groups the broker lets this socket hold. */
  private readonly max: number;
  /** Most targets the broker lets one group list: longer lists take several groups. */
  readonly maxTargets: number;

  constructor(
    offer: WelcomeGroups,
    /** Definitions this cache may send per second. */
    private readonly definitionsPerSecond: number,
  ) {
    this.max = offer.max;
    this.maxTargets = offer.maxTargets;
  }

  /** The group id of `targets`, or null when it has none yet. */
  find(targets: readonly string[]): string | null {
    if (this.lastList !== null && sameList(this.lastList, targets)) return this.lastId;
    const key = JSON.stringify(targets);
    const id = this.ids.get(key);
    if (id === undefined) return null;
    // Most recently used last.
    this.ids.delete(key);
    this.ids.set(key, id);
    this.remember(targets, id);
    return id;
  }

  /**
   * A group for `targets` (which `find` did not know), with the `group` control message that defines it — or
   * redefines the id of the least recently used list when the cache is full: one message, never more than `max`
   * groups on the broker. Null when this second's definitions are spent.
   */
  add(targets: readonly string[], now: number): { id: string; definition: string } | null {
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.definedInWindow = 0;
    }
    if (this.definedInWindow >= this.definitionsPerSecond) return null;
    this.definedInWindow++;
    let id: string;
    if (this.ids.size >= this.max) {
      const [oldest, oldId] = this.ids.entries().next().value as [string, string];
      this.ids.delete(oldest);
      id = oldId;
    } else id = `g${(this.nextId++).toString(36)}`;
    const key = JSON.stringify(targets);
    this.ids.set(key, id);
    this.remember(targets, id);
    // Ids are `g` and base-36 digits: nothing to escape.
    return { id, definition: `{"t":"group","id":"${id}","targets":${key}}` };
  }

  /** The broker refused group `id` (its `error` named it): its list is defined anew at its next use. */
  forget(id: string): void {
    if (this.lastId === id) this.lastList = null;
    for (const [key, known] of this.ids) {
      if (known === id) {
        this.ids.delete(key);
        return;
      }
    }
  }

  private remember(targets: readonly string[], id: string): void {
    // A copy: the caller's array is not ours to keep.
    this.lastList = targets.slice();
    this.lastId = id;
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
