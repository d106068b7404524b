import { VnfError, type MultiplexingEndpoint } from '@vnf/core';
import { InBrowserHub } from '@vnf/in-browser-hub';
import { MultiplexHub } from '@vnf/multiplex-hub';
import { InBrowserRegistry } from '@vnf/registry';
import { Room, MAX_ROOM_NAME_LENGTH } from '@vnf/rooms';
import { until } from '@vnf/conformance';

let hub: MultiplexHub<InBrowserHub>;
let registry: InBrowserRegistry;
let rooms: Room[];

beforeEach(() => {
  hub = new MultiplexHub(new InBrowserHub());
  registry = new InBrowserRegistry();
  rooms = [];
});
afterEach(async () => {
  await Promise.all(rooms.map((r) => r.leave()));
  await hub.close();
});

function member(eva: string, name = 'lobby', extra: Record<string, unknown> = {}): { room: Room; endpoint: MultiplexingEndpoint } {
  const endpoint = hub.openEndpoint(eva);
  const room = new Room(endpoint, { registry: registry.connect(eva), name, ...extra });
  rooms.push(room);
  return { room, endpoint };
}

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return VnfError.is(err) ? err.code : String(err);
  }
  return undefined;
}

describe('Room options', () => {
  it('needs a MultiplexingEndpoint, a registry of the same eva and a valid name; unknown options throw', () => {
    const endpoint = hub.openEndpoint('ann');
    const own = registry.connect('ann');
    expect(code(() => new Room(new InBrowserHub().openEndpoint('x') as never, { registry: own, name: 'r' }))).toBe('INVALID_ARGUMENT');
    expect(code(() => new Room(endpoint, { registry: registry.connect('bob'), name: 'r' }))).toBe('INVALID_ARGUMENT');
    expect(code(() => new Room(endpoint, { registry: own, name: '' }))).toBe('INVALID_ARGUMENT');
    expect(code(() => new Room(endpoint, { registry: own, name: 'x'.repeat(MAX_ROOM_NAME_LENGTH + 1) }))).toBe('INVALID_ARGUMENT');
    expect(code(() => new Room(endpoint, { registry: own, name: 'r', historySize: 0 }))).toBe('INVALID_ARGUMENT');
    expect(code(() => new Room(endpoint, { registry: own, name: 'r', histroySize: 5 } as never))).toBe('INVALID_ARGUMENT');
    expect(code(() => new Room(endpoint, { name: 'r' } as never))).toBe('INVALID_ARGUMENT');
  });

  it('join() twice is INVALID_ARGUMENT; leave() is idempotent; a left room refuses everything with DESTROYED', async () => {
    const { room } = member('ann');
    await room.join();
    await expect(room.join()).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await room.leave();
    await room.leave();
    expect(code(() => room.send('bob', 'x'))).toBe('DESTROYED');
    expect(() => room.setState('k', 1)).toThrow(expect.objectContaining({ code: 'DESTROYED' }));
  });
});

describe('Room', () => {
  it('a join the registry refuses rejects FORBIDDEN and leaves nothing behind', async () => {
    registry = new InBrowserRegistry({ authorize: (subject, action, resource) => action === 'read' || resource.collection !== 'vnf.room:private' || subject.eva === 'ann' });
    const ann = member('ann', 'private');
    const eve = member('eve', 'private');
    await ann.room.join();
    await expect(eve.room.join()).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(eve.room.joined).toBe(false);
    expect([...ann.room.members.keys()]).toEqual(['ann']);
    // Its sub-protocol is free again: the app may try another room on the same name later.
    expect(() => eve.endpoint.subProtocol('vnf.room:private').close()).not.toThrow();
  });

  it('a frame that is not a room frame is an error event (PROTOCOL), reported once per sender, and dropped', async () => {
    const ann = member('ann');
    const bob = member('bob');
    await ann.room.join();
    await bob.room.join();
    const errors: VnfError[] = [];
    ann.room.on('error', (e) => errors.push(e));
    const got: unknown[] = [];
    ann.room.onMessage = (e) => got.push(e.message);
    // Garbage on the room's sub-protocol, from an endpoint that is no room at all.
    const mallory = hub.openEndpoint('mallory');
    await mallory.openConnection('ann');
    const channel = mallory.subProtocol('vnf.room:lobby');
    channel.send('ann', 'garbage');
    channel.send('ann', 'more garbage');
    await until('the error', 2000, () => errors.length > 0);
    bob.room.broadcast('fence');
    await until('the fence', 2000, () => got.includes('fence'));
    expect(errors.map((e) => e.code)).toEqual(['PROTOCOL']);
    expect(got).toEqual(['fence']);
  });

  it('a listener that throws becomes an error event (LISTENER_ERROR), and delivery goes on', async () => {
    const ann = member('ann');
    const bob = member('bob');
    await ann.room.join();
    await bob.room.join();
    await until('bob to see ann', 2000, () => bob.room.members.has('ann'));
    const errors: VnfError[] = [];
    const got: unknown[] = [];
    ann.room.on('error', (e) => errors.push(e));
    ann.room.onMessage = (e) => {
      got.push(e.message);
      if (e.message === 'boom') throw new Error('listener bug');
    };
    bob.room.broadcast('boom');
    bob.room.broadcast('after');
    await until('both broadcasts', 2000, () => got.length === 2);
    expect(got).toEqual(['boom', 'after']);
    expect(errors.map((e) => e.code)).toEqual(['LISTENER_ERROR']);
  });

  it('a member\'s entry written by another eva is not a member (the registry refuses it; a forged one is ignored)', async () => {
    const ann = member('ann');
    await ann.room.join();
    const eve = registry.connect('eve');
    await expect(eve.write({ collection: 'vnf.room:lobby', name: 'm:bob' }, { inc: 'abcdefgh', info: null })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await eve.close();
    expect([...ann.room.members.keys()]).toEqual(['ann']);
  });

  it('send() to a member whose connection is still opening waits for it', async () => {
    const ann = member('ann');
    const bob = member('bob');
    await ann.room.join();
    await bob.room.join();
    await until('ann to see bob', 2000, () => ann.room.members.has('bob'));
    const got: unknown[] = [];
    bob.room.onMessage = (e) => got.push([e.message, e.direct]);
    ann.room.send('bob', 'first');
    ann.room.send('bob', 'second');
    await until('the direct messages', 2000, () => got.length === 2);
    expect(got).toEqual([
      ['first', true],
      ['second', true],
    ]);
  });
});
