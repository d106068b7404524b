import { Global, VnfError, createLogger, type RegistryStore } from '@vnf/core';
import {
  REGISTRY_CHANGE_NOTIFICATION,
  RegistryMethod,
  parseKeyParams,
  parseListParams,
  parseUnwatchParams,
  parseValueParams,
  parseWatchParams,
  type GetResult,
  type ListResult,
  type StatusResult,
} from './registryProtocol';
import type { RegistrySession, SessionLimits, SessionNotify } from './sessionTypes';
import { PageJson, forwardingWatcher, type RawJson } from './registryJson';
import type { RegistryRules } from './RegistryRules';

const log = createLogger('registry:service');

/** RegistryService's session: one RPC channel, speaking for `owner`. */
export class ServiceSession implements RegistrySession {
  private readonly watches = new Map<string, () => void>();
  private closing: Promise<void> | null = null;

  /** `release` detaches the session from its service; it returns true when this was the owner's last session. */
  constructor(
    private readonly store: RegistryStore,
    private readonly owner: string,
    private readonly notify: SessionNotify,
    private readonly limits: SessionLimits,
    private readonly release: () => boolean,
  ) {
    this.handle = this.handle.bind(this);
    this.close = this.close.bind(this);
    this.detach = this.detach.bind(this);
  }

  async handle(method: string, params: unknown): Promise<unknown> {
    this.assertOpen(method);
    switch (method) {
      case RegistryMethod.CREATE: {
        const p = parseValueParams(method, params);
        return status(await this.store.create(this.owner, p, p.value));
      }
      case RegistryMethod.GET: {
        const result: GetResult = { entry: await this.store.get(parseKeyParams(method, params)) };
        return result;
      }
      case RegistryMethod.UPDATE: {
        const p = parseValueParams(method, params);
        return status(await this.store.update(this.owner, p, p.value));
      }
      case RegistryMethod.DELETE:
        return status(await this.store.delete(this.owner, parseKeyParams(method, params)));
      case RegistryMethod.LIST:
        return this.list(method, params);
      case RegistryMethod.WATCH:
        return this.watch(method, params);
      case RegistryMethod.UNWATCH: {
        const { watchId } = parseUnwatchParams(method, params);
        this.watches.get(watchId)?.();
        this.watches.delete(watchId);
        return status(Global.OK);
      }
      default:
        throw new VnfError('PROTOCOL', `Unknown registry method "${String(method)}". Check that the client and broker versions match.`);
    }
  }

  close(): Promise<void> {
    if (!this.closing) this.closing = this.shutDown(true);
    return this.closing;
  }

  detach(): Promise<void> {
    if (!this.closing) this.closing = this.shutDown(false);
    return this.closing;
  }

  private async watch(method: string, params: unknown): Promise<StatusResult> {
    const { collection, watchId } = parseWatchParams(method, params);
    if (this.watches.has(watchId)) {
      throw new VnfError('INVALID_ARGUMENT', `Watch id "${watchId}" is already in use on this channel; pick a new id for each watch.`);
    }
    if (this.watches.size >= this.limits.maxWatches) {
      throw new VnfError('TOO_LARGE', `This channel already holds ${this.watches.size} watches, the most allowed. Stop watches it no longer needs.`, {
        details: { limit: this.limits.maxWatches },
      });
    }
    const budget = this.limits.watchBudget;
    if (budget && !budget.take()) {
      throw new VnfError('TOO_LARGE', 'This client already holds the most registry watches the broker allows one client. Stop watches it no longer needs.', {
        details: { limit: budget.limit },
      });
    }
    // Reserved before the store answers, so two concurrent calls with one id cannot both succeed. Whoever ends the
    // watch calls what `watches` holds for it, which gives its unit back to the client's budget exactly once.
    const reservation = (): void => budget?.give();
    this.watches.set(watchId, reservation);
    let unsubscribe: () => void;
    try {
      const quotedId = JSON.stringify(watchId);
      const accepting = this.limits.accepting;
      unsubscribe = await this.store.watch(
        collection,
        forwardingWatcher((type, entryJson) => {
          // A channel dropping notifications (it lags, or its client is past its fan-out budget) costs nothing more:
          // a change seen by a thousand watches of a lagging client must not build a thousand texts to throw away.
          if (accepting && !accepting()) return;
          // The params as text, the entry's JSON shared with every other watch of the change: a large value seen by
          // many watches is neither parsed nor serialized once for each.
          const json = `{"watchId":${quotedId},"type":"${type}","entry":${entryJson()}}`;
          // The broker's own code, not a user's: a failure to tell one client must neither reach the writer nor crash the broker.
          try {
            this.notify(REGISTRY_CHANGE_NOTIFICATION, json);
          } catch (err) {
            log('could not tell %s of a change in %s: %O', this.owner, collection, err);
          }
        }),
      );
    } catch (err) {
      if (this.watches.get(watchId) === reservation) {
        this.watches.delete(watchId);
        reservation();
      }
      throw err;
    }
    if (this.watches.get(watchId) !== reservation) {
      // The session closed, or the watch was stopped, while the store was subscribing.
      unsubscribe();
      this.assertOpen(method);
      return status(Global.OK);
    }
    this.watches.set(watchId, () => {
      unsubscribe();
      budget?.give();
    });
    return status(Global.OK);
  }

  private async list(method: string, params: unknown): Promise<ListResult | RawJson> {
    const { collection, after } = parseListParams(method, params);
    const maxBytes = this.limits.maxReplyBytes;
    // The page as text from the stored JSON when the store can: a reply of large values is neither parsed nor
    // serialized again on its way out.
    const asJson = (this.store as Partial<Pick<RegistryRules, 'listPageJson'>>).listPageJson?.bind(this.store);
    if (after !== undefined) {
      const request = { after: after ?? undefined, maxEntries: this.limits.maxPageEntries, maxBytes };
      return asJson ? asJson(collection, request) : this.store.listPage(collection, request);
    }
    // A client that does not ask for pages gets the whole list, or TOO_LARGE: never a silently partial one.
    const whole = { maxEntries: Infinity, maxBytes };
    const page = asJson ? await asJson(collection, whole) : await this.store.listPage(collection, whole);
    if (page.next !== undefined) {
      throw new VnfError(
        'TOO_LARGE',
        `Collection ${collection} does not fit in one reply of ${maxBytes} bytes. List it in pages ({ collection, after: null }, ` +
          'then after: next), as WebSocketRegistryClient 0.2 does.',
        { details: { limit: maxBytes } },
      );
    }
    return page instanceof PageJson ? page : { entries: page.entries };
  }

  private async shutDown(removeEntries: boolean): Promise<void> {
    for (const unsubscribe of this.watches.values()) unsubscribe();
    this.watches.clear();
    if (this.release() && removeEntries) {
      try {
        await this.store.removeOwner(this.owner);
      } catch (err) {
        log('could not remove the entries of %s: %O', this.owner, err);
      }
    }
  }

  private assertOpen(method: string): void {
    if (this.closing) throw new VnfError('DESTROYED', `Cannot handle ${method}: this registry session was closed. Open a new session.`);
  }
}

function status(value: StatusResult['status']): StatusResult {
  return { status: value };
}
