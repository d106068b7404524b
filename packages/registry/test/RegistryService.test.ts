import { Global, VnfError } from '@vnf/core';
import {
  MemoryRegistryStore,
  REGISTRY_CHANGE_NOTIFICATION,
  RegistryMethod,
  RegistryService,
  type RegistrySession,
} from '@vnf/registry';

interface Notification {
  method: string;
  params: unknown;
}

function setup(options?: { maxWatchesPerSession?: number; maxReplyBytes?: number; maxPageEntries?: number }) {
  const store = new MemoryRegistryStore();
  const service = new RegistryService(store, options);
  const open = (owner: string): { session: RegistrySession; notifications: Notification[] } => {
    const notifications: Notification[] = [];
    const session = onTheWire(
      service.openSession(owner, (method, json) => {
        notifications.push({ method, params: JSON.parse(json) });
      }),
    );
    return { session, notifications };
  };
  return { store, service, open };
}

/** The session's results as a client reads them: serialized (a result may be JSON text already, RawJson) and parsed. */
function onTheWire(session: RegistrySession): RegistrySession {
  return {
    handle: async (method, params) => JSON.parse(JSON.stringify(await session.handle(method, params))) as unknown,
    close: (options) => session.close(options),
    endWaits: () => session.endWaits(),
    detach: () => session.detach(),
  };
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'resolved';
  } catch (err) {
    return VnfError.is(err) ? err.code : `not a VnfError: ${String(err)}`;
  }
}

const key = { collection: 'c', name: 'n' };

describe('RegistryService', () => {
  it('throws INVALID_ARGUMENT naming the option meant for a misspelt one', () => {
    expect(() => new RegistryService(new MemoryRegistryStore(), { maxWatchesPerSesion: 1 } as never)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', message: 'Unknown RegistryService option "maxWatchesPerSesion". Did you mean "maxWatchesPerSession"?' }),
    );
  });

  it('handles exactly the registry methods', () => {
    const { service } = setup();
    for (const method of Object.values(RegistryMethod)) expect(service.handles(method)).toBe(true);
    for (const method of ['registry.nope', 'registry.', 'relay.send', '', 'REGISTRY.CREATE']) expect(service.handles(method)).toBe(false);
    expect(Object.values(RegistryMethod).every((m) => m.startsWith('registry.'))).toBe(true);
  });

  it('answers each method with the documented plain-JSON shape, owned by the session', async () => {
    const { open } = setup();
    const { session } = open('a');
    const results = [
      await session.handle(RegistryMethod.CREATE, { ...key, value: { x: [1] } }),
      await session.handle(RegistryMethod.CREATE, { ...key, value: 2 }),
      await session.handle(RegistryMethod.GET, key),
      await session.handle(RegistryMethod.UPDATE, { ...key, value: 'v2' }),
      await session.handle(RegistryMethod.LIST, { collection: 'c' }),
      await session.handle(RegistryMethod.WATCH, { collection: 'c', watchId: 'w1' }),
      await session.handle(RegistryMethod.UNWATCH, { watchId: 'w1' }),
      await session.handle(RegistryMethod.DELETE, key),
    ];
    expect(results).toEqual([
      { status: Global.OK },
      { status: Global.ALREADY_EXISTS },
      { entry: { collection: 'c', name: 'n', value: { x: [1] }, owner: 'a', version: 1 } },
      { status: Global.OK },
      { entries: [{ collection: 'c', name: 'n', value: 'v2', owner: 'a', version: 2 }] },
      // A watch answers the store revision it starts after (what its client resumes from).
      { status: Global.OK, revision: 2 },
      { status: Global.OK },
      { status: Global.OK },
    ]);
    expect(JSON.parse(JSON.stringify(results))).toEqual(results);
  });

  it('validates params strictly with INVALID_ARGUMENT', async () => {
    const { open, store } = setup();
    const { session } = open('a');
    const bad: Array<[string, unknown]> = [
      [RegistryMethod.CREATE, null],
      [RegistryMethod.CREATE, []],
      [RegistryMethod.CREATE, 'c/n'],
      [RegistryMethod.CREATE, key],
      [RegistryMethod.CREATE, { ...key, value: 1, owner: 'b' }],
      [RegistryMethod.CREATE, { collection: 1, name: 'n', value: 1 }],
      [RegistryMethod.CREATE, { collection: '', name: 'n', value: 1 }],
      [RegistryMethod.GET, { collection: 'c' }],
      [RegistryMethod.GET, undefined],
      [RegistryMethod.UPDATE, { collection: 'c', name: 'n' }],
      [RegistryMethod.DELETE, { ...key, extra: true }],
      [RegistryMethod.LIST, {}],
      [RegistryMethod.LIST, { collection: ['c'] }],
      [RegistryMethod.WATCH, { collection: 'c' }],
      [RegistryMethod.WATCH, { collection: 'c', watchId: '' }],
      [RegistryMethod.WATCH, { collection: 'c', watchId: 'w'.repeat(65) }],
      [RegistryMethod.WATCH, { collection: 'c', watchId: 5 }],
      [RegistryMethod.UNWATCH, {}],
    ];
    for (const [method, params] of bad) {
      expect([method, params, await codeOf(session.handle(method, params))]).toEqual([method, params, 'INVALID_ARGUMENT']);
    }
    expect(await store.list('c')).toEqual([]);
  });

  it('rejects an unknown method with PROTOCOL', async () => {
    const { open } = setup();
    expect(await codeOf(open('a').session.handle('registry.nope', {}))).toBe('PROTOCOL');
  });

  it('pushes each change of a watch as a registry.change notification carrying its watch id', async () => {
    const { open } = setup();
    const watcher = open('w');
    const writer = open('a');
    await watcher.session.handle(RegistryMethod.WATCH, { collection: 'c', watchId: 'mine' });
    await writer.session.handle(RegistryMethod.CREATE, { ...key, value: 1 });
    await writer.session.handle(RegistryMethod.CREATE, { collection: 'other', name: 'n', value: 1 });
    await writer.session.handle(RegistryMethod.DELETE, key);
    expect(watcher.notifications).toEqual([
      { method: REGISTRY_CHANGE_NOTIFICATION, params: { watchId: 'mine', type: 'added', entry: { ...key, value: 1, owner: 'a', version: 1 }, revision: 1 } },
      { method: REGISTRY_CHANGE_NOTIFICATION, params: { watchId: 'mine', type: 'removed', entry: { ...key, value: 1, owner: 'a', version: 1 }, revision: 3 } },
    ]);
    await watcher.session.handle(RegistryMethod.UNWATCH, { watchId: 'mine' });
    await writer.session.handle(RegistryMethod.CREATE, { ...key, value: 2 });
    expect(watcher.notifications).toHaveLength(2);
  });

  it('refuses a watch id already in use on the session, and allows it again after unwatch', async () => {
    const { open } = setup();
    const { session } = open('a');
    await session.handle(RegistryMethod.WATCH, { collection: 'c', watchId: 'w' });
    expect(await codeOf(session.handle(RegistryMethod.WATCH, { collection: 'd', watchId: 'w' }))).toBe('INVALID_ARGUMENT');
    await session.handle(RegistryMethod.UNWATCH, { watchId: 'w' });
    expect(await session.handle(RegistryMethod.WATCH, { collection: 'd', watchId: 'w' })).toEqual({ status: Global.OK, revision: 0 });
    // Unwatching what is not watched is fine: the client may be cleaning up after a lost channel.
    expect(await session.handle(RegistryMethod.UNWATCH, { watchId: 'unknown' })).toEqual({ status: Global.OK });
  });

  it('bounds the watches of one session with TOO_LARGE', async () => {
    const { open } = setup({ maxWatchesPerSession: 2 });
    const { session } = open('a');
    await session.handle(RegistryMethod.WATCH, { collection: 'c', watchId: '1' });
    await session.handle(RegistryMethod.WATCH, { collection: 'c', watchId: '2' });
    expect(await codeOf(session.handle(RegistryMethod.WATCH, { collection: 'c', watchId: '3' }))).toBe('TOO_LARGE');
    await session.handle(RegistryMethod.UNWATCH, { watchId: '1' });
    expect(await codeOf(session.handle(RegistryMethod.WATCH, { collection: 'c', watchId: '3' }))).toBe('resolved');
  });

  it("counts watches against the client's budget across its sessions, and gives each back exactly once however it ends", async () => {
    const { service } = setup();
    let held = 0;
    const budget = { limit: 3, take: () => (held < 3 ? (held++, true) : false), give: () => void held-- };
    const first = service.openSession('a', () => undefined, { watchBudget: budget });
    const second = service.openSession('b', () => undefined, { watchBudget: budget });
    await first.handle(RegistryMethod.WATCH, { collection: 'c', watchId: '1' });
    await first.handle(RegistryMethod.WATCH, { collection: 'c', watchId: '2' });
    await second.handle(RegistryMethod.WATCH, { collection: 'c', watchId: '1' });
    expect(await codeOf(second.handle(RegistryMethod.WATCH, { collection: 'c', watchId: '2' }))).toBe('TOO_LARGE');
    expect(held).toBe(3);
    await first.handle(RegistryMethod.UNWATCH, { watchId: '1' });
    await first.handle(RegistryMethod.UNWATCH, { watchId: '1' });
    expect(held).toBe(2);
    // A watch refused for a bad collection gives its unit back.
    expect(await codeOf(second.handle(RegistryMethod.WATCH, { collection: '', watchId: '3' }))).toBe('INVALID_ARGUMENT');
    expect(held).toBe(2);
    await first.close();
    await second.close();
    expect(held).toBe(0);
  });

  it('answers a list in pages below its reply budget; a whole list that does not fit is TOO_LARGE, never partial', async () => {
    const { open, store } = setup({ maxReplyBytes: 20_000, maxPageEntries: 50 });
    for (let i = 0; i < 40; i++) await store.create(`owner${i % 4}`, { collection: 'big', name: `n${String(i).padStart(2, '0')}` }, 'x'.repeat(1000));
    const { session } = open('reader');
    expect(await codeOf(session.handle(RegistryMethod.LIST, { collection: 'big' }))).toBe('TOO_LARGE');
    const names: string[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const page = (await session.handle(RegistryMethod.LIST, { collection: 'big', after })) as { entries: { name: string }[]; next?: string };
      expect(JSON.stringify(page).length).toBeLessThanOrEqual(20_000);
      names.push(...page.entries.map((e) => e.name));
      pages++;
      if (page.next === undefined) break;
      after = page.next;
    }
    expect(pages).toBeGreaterThan(1);
    expect(names).toEqual(Array.from({ length: 40 }, (_, i) => `n${String(i).padStart(2, '0')}`));
    expect(await session.handle(RegistryMethod.LIST, { collection: 'small' })).toEqual({ entries: [] });
    expect(await codeOf(session.handle(RegistryMethod.LIST, { collection: 'big', after: 5 }))).toBe('INVALID_ARGUMENT');
  });

  it('on close removes the owner entries (watchers are told), ends its watches and rejects DESTROYED', async () => {
    const { open, store } = setup();
    const a = open('a');
    const b = open('b');
    await a.session.handle(RegistryMethod.CREATE, { ...key, value: 1 });
    await a.session.handle(RegistryMethod.WATCH, { collection: 'c', watchId: 'a-watch' });
    await b.session.handle(RegistryMethod.CREATE, { collection: 'c', name: 'b', value: 1 });
    await b.session.handle(RegistryMethod.WATCH, { collection: 'c', watchId: 'b-watch' });
    a.notifications.length = 0;
    b.notifications.length = 0;
    await Promise.all([a.session.close(), a.session.close()]);
    expect((await store.list('c')).map((e) => e.name)).toEqual(['b']);
    expect(b.notifications).toEqual([
      { method: REGISTRY_CHANGE_NOTIFICATION, params: { watchId: 'b-watch', type: 'removed', entry: { ...key, value: 1, owner: 'a', version: 1 }, revision: 3 } },
    ]);
    await b.session.handle(RegistryMethod.CREATE, { collection: 'c', name: 'b2', value: 1 });
    expect(a.notifications).toEqual([]);
    expect(await codeOf(a.session.handle(RegistryMethod.LIST, { collection: 'c' }))).toBe('DESTROYED');
  });

  it("keeps an owner's entries while another session of the same owner is open (a reconnection taking over)", async () => {
    const { open, store } = setup();
    const old = open('a');
    await old.session.handle(RegistryMethod.CREATE, { ...key, value: 1 });
    const fresh = open('a');
    expect(await fresh.session.handle(RegistryMethod.CREATE, { ...key, value: 1 })).toEqual({ status: Global.ALREADY_EXISTS });
    await old.session.close();
    expect((await store.get(key)).owner).toBe('a');
    await fresh.session.close();
    expect(await codeOf(store.get(key))).toBe('NOT_FOUND');
  });

  it('checks its arguments with INVALID_ARGUMENT', () => {
    const store = new MemoryRegistryStore();
    const invalid = expect.objectContaining({ code: 'INVALID_ARGUMENT' });
    expect(() => new RegistryService(undefined as never)).toThrow(invalid);
    expect(() => new RegistryService(store, { maxWatchesPerSession: 0 })).toThrow(invalid);
    const service = new RegistryService(store);
    expect(() => service.openSession('', () => undefined)).toThrow(invalid);
    expect(() => service.openSession('a', 'nope' as never)).toThrow(invalid);
  });

  it('works unbound, as the broker may pass its methods around', async () => {
    const { service } = setup();
    const { handles, openSession } = service;
    expect(handles(RegistryMethod.GET)).toBe(true);
    const { handle, close } = openSession('a', () => undefined);
    expect(JSON.parse(JSON.stringify(await handle(RegistryMethod.LIST, { collection: 'c' })))).toEqual({ entries: [] });
    await close();
    expect(await codeOf(handle(RegistryMethod.LIST, { collection: 'c' }))).toBe('DESTROYED');
  });
});
