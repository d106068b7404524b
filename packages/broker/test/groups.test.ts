// Server-side fan-out (docs/protocol.md, Groups): a client names a group of targets once, then each message leaves
// it once and the broker copies it to every target it is connected with, as ordinary records stamped with its eva.
import { trackResources } from '@vnf/conformance';
import { CloseCode, RecordKind } from '@vnf/protocol';
import { Broker, MemoryBus, MemoryRouter, type BrokerOptions } from '../src';
import { startBroker, type Running } from './fixture';
import { RawClient } from './rawClient';

const { TEXT, GROUP_TEXT, GROUP_BINARY } = RecordKind;

let brokers: Running[] = [];
afterEach(async () => {
  await Promise.all(brokers.splice(0).map((b) => b.close()));
});

async function broker(options: BrokerOptions = {}): Promise<Running> {
  const running = await startBroker(options);
  brokers.push(running);
  return running;
}

async function register(running: Running, eva: string): Promise<RawClient> {
  const [client] = await RawClient.register(running.url, eva);
  return running.track(client);
}

/** Opens `from` → each of `to` and waits for every side to know it. */
async function connect(from: RawClient, fromEva: string, to: [RawClient, string][]): Promise<void> {
  for (const [client, eva] of to) {
    from.sendControl({ t: 'open', to: eva });
    await from.control((m) => m.t === 'opened' && m.to === eva);
    await client.control((m) => m.t === 'accept' && m.from === fromEva);
  }
}

/** A ping answered: everything the client sent before it was handled. */
async function roundTrip(client: RawClient): Promise<void> {
  const pongs = client.controls.filter((m) => m.t === 'pong').length;
  client.sendControl({ t: 'ping' });
  await client.control(() => client.controls.filter((m) => m.t === 'pong').length > pongs);
}

const texts = (client: RawClient): string[] => client.data.map((d) => `${d.source}:${typeof d.payload === 'string' ? d.payload : `[${[...d.payload].join(',')}]`}`);

it.each([[{ maxGroupsPerSocket: -1 }], [{ maxGroupsPerSocket: 1.5 }], [{ maxGroupTargets: 0 }], [{ maxGroupTarget: 8 }]])('%j throws INVALID_ARGUMENT at construction', (options) => {
  expect(() => new Broker(options as never)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
});

it('the welcome announces groups and their limits; maxGroupsPerSocket 0 announces none and reads like a broker predating groups', async () => {
  const resources = trackResources();
  const offering = await broker({ maxGroupsPerSocket: 8, maxGroupTargets: 100 });
  const [, welcome] = await welcomed(offering, 'a');
  expect(welcome).toMatchObject({ groups: { max: 8, maxTargets: 100 } });

  const plain = await broker({ maxGroupsPerSocket: 0 });
  const [client, bare] = await welcomed(plain, 'b');
  expect(bare).not.toHaveProperty('groups');
  client.sendControl({ t: 'group', id: 'g', targets: ['x'] });
  await client.control((m) => m.t === 'error' && m.code === 'PROTOCOL' && m.group === 'g');
  client.sendRecords([[GROUP_TEXT, 'g', 'hi']]);
  await client.control((m) => m.t === 'error' && m.code === 'PROTOCOL' && m.message.includes('unknown record kind 3'));
  await roundTrip(client);
  expect(client.closeCode).toBeNull();
  await Promise.all(brokers.splice(0).map((b) => b.close()));
  await resources.released(5000);
});

async function welcomed(running: Running, eva: string): Promise<[RawClient, unknown]> {
  const client = running.track(await RawClient.connect(running.url));
  return [client, await client.hello(eva)];
}

it('each connected target gets each group record once, as an ordinary record stamped with the sender; others get nothing', async () => {
  const resources = trackResources();
  const running = await broker();
  const sender = await register(running, 'sender');
  const [a, b, c, loner] = await Promise.all(['a', 'b', 'c', 'loner'].map((eva) => register(running, eva)));
  await connect(sender, 'sender', [
    [a, 'a'],
    [b, 'b'],
    [c, 'c'],
  ]);
  // Duplicates, the sender itself, an eva it is not connected to and one nobody holds: each connected target once.
  sender.sendControl({ t: 'group', id: 'room', targets: ['a', 'b', 'loner', 'a', 'sender', 'ghost', 'c', 'b'] });
  sender.sendRecords([
    [GROUP_TEXT, 'room', 'one'],
    [GROUP_BINARY, 'room', new Uint8Array([1, 2])],
    [GROUP_TEXT, 'room', 'three'],
  ]);
  // Records reach a target in the order they were sent, so the marker comes last.
  for (const eva of ['a', 'b', 'c']) sender.sendText(eva, 'end');
  for (const target of [a, b, c]) {
    await target.until(() => target.data.some((d) => d.payload === 'end') || undefined, 'the end marker');
    expect(texts(target)).toEqual(['sender:one', 'sender:[1,2]', 'sender:three', 'sender:end']);
  }
  // Connected only now: what was sent before the connection never reaches it.
  await connect(sender, 'sender', [[loner, 'loner']]);
  sender.sendText('loner', 'end');
  await loner.until(() => loner.data.length > 0 || undefined, 'the end marker');
  expect(texts(loner)).toEqual(['sender:end']);
  expect(running.broker.fanOutDropCount).toBe(0);
  await Promise.all(brokers.splice(0).map((r) => r.close()));
  await resources.released(5000);
});

it('redefining a group replaces its targets, ungroup ends it, and an unknown group is an error that names it; the socket stays up', async () => {
  const running = await broker();
  const sender = await register(running, 'sender');
  const [a, b] = await Promise.all(['a', 'b'].map((eva) => register(running, eva)));
  await connect(sender, 'sender', [
    [a, 'a'],
    [b, 'b'],
  ]);
  sender.sendControl({ t: 'group', id: 'g', targets: ['a'] });
  sender.sendRecords([[GROUP_TEXT, 'g', 'first']]);
  sender.sendControl({ t: 'group', id: 'g', targets: ['b'] });
  sender.sendRecords([[GROUP_TEXT, 'g', 'second']]);
  sender.sendControl({ t: 'ungroup', id: 'g' });
  sender.sendControl({ t: 'ungroup', id: 'never-defined' });
  sender.sendRecords([
    [GROUP_TEXT, 'g', 'third'],
    [TEXT, 'a', 'end'],
    [TEXT, 'b', 'end'],
  ]);
  const error = await sender.control((m) => m.t === 'error');
  expect(error).toMatchObject({ code: 'NOT_FOUND', group: 'g' });
  for (const target of [a, b]) await target.until(() => target.data.some((d) => d.payload === 'end') || undefined, 'the end marker');
  expect(texts(a)).toEqual(['sender:first', 'sender:end']);
  expect(texts(b)).toEqual(['sender:second', 'sender:end']);
  await roundTrip(sender);
  expect(sender.controls.filter((m) => m.t === 'error')).toHaveLength(1);
  expect(sender.closeCode).toBeNull();
});

it('past maxGroupsPerSocket or maxGroupTargets a group is refused with TOO_LARGE naming it; the socket stays up', async () => {
  const running = await broker({ maxGroupsPerSocket: 2, maxGroupTargets: 3 });
  const sender = await register(running, 'sender');
  const a = await register(running, 'a');
  await connect(sender, 'sender', [[a, 'a']]);
  sender.sendControl({ t: 'group', id: 'g1', targets: ['a'] });
  sender.sendControl({ t: 'group', id: 'g2', targets: ['a', 'x', 'y'] });
  sender.sendControl({ t: 'group', id: 'g3', targets: ['a'] });
  const tooMany = await sender.control((m) => m.t === 'error');
  expect(tooMany).toMatchObject({ code: 'TOO_LARGE', group: 'g3' });
  expect(tooMany.t === 'error' && tooMany.message).toContain('maxGroupsPerSocket');
  // A full socket may still redefine a group it holds; one with too many targets is refused, and its old definition ends.
  sender.sendControl({ t: 'group', id: 'g1', targets: ['x', 'a'] });
  sender.sendControl({ t: 'group', id: 'g2', targets: ['a', 'b', 'c', 'd'] });
  const tooLarge = await sender.control((m) => m.t === 'error' && m.group === 'g2');
  expect(tooLarge).toMatchObject({ code: 'TOO_LARGE' });
  expect(tooLarge.t === 'error' && tooLarge.message).toContain('maxGroupTargets');
  sender.sendRecords([
    [GROUP_TEXT, 'g1', 'to g1'],
    [GROUP_TEXT, 'g2', 'to g2'],
    [TEXT, 'a', 'end'],
  ]);
  await sender.control((m) => m.t === 'error' && m.code === 'NOT_FOUND' && m.group === 'g2');
  await a.until(() => a.data.some((d) => d.payload === 'end') || undefined, 'the end marker');
  expect(texts(a)).toEqual(['sender:to g1', 'sender:end']);
  expect(sender.closeCode).toBeNull();
  // An rpc socket has no groups.
  const rpc = running.track(await RawClient.connect(running.url));
  expect(await rpc.hello('service', { role: 'rpc' })).toMatchObject({ t: 'welcome' });
  rpc.sendControl({ t: 'group', id: 'g', targets: ['a'] });
  await rpc.control((m) => m.t === 'error' && m.code === 'PROTOCOL' && m.message.includes('"group"'));
  rpc.sendRecords([[GROUP_TEXT, 'g', 'x']]);
  await rpc.control((m) => m.t === 'error' && m.code === 'PROTOCOL' && m.message.includes('rpc socket cannot send messages'));
  expect(rpc.closeCode).toBeNull();
});

it('a group record counts once per target against maxMessagesPerSecond: a broadcast too many for the flood limit is RATE_LIMITED', async () => {
  const running = await broker({ maxMessagesPerSecond: 100 });
  const sender = await register(running, 'sender');
  const targets = await Promise.all(['a', 'b', 'c', 'd', 'e'].map(async (eva) => [await register(running, eva), eva] as [RawClient, string]));
  await connect(sender, 'sender', targets);
  sender.sendControl({ t: 'group', id: 'all', targets: targets.map(([, eva]) => eva) });
  // 15 records × 5 targets = 75 deliveries (plus the opens and the group): within 100 per second.
  sender.sendRecords(Array.from({ length: 15 }, (_, i) => [GROUP_TEXT, 'all', `m${i}`] as [RecordKind, string, string]));
  for (const [target] of targets) await target.until(() => target.data.length === 15 || undefined, '15 messages');
  // 30 more records are 150 deliveries: past the limit, as 150 unicast records would be.
  sender.sendRecords(Array.from({ length: 30 }, (_, i) => [GROUP_TEXT, 'all', `n${i}`] as [RecordKind, string, string]));
  expect(await sender.closedWithin()).toBe(CloseCode.RATE_LIMITED);
  expect(sender.controls).toContainEqual(expect.objectContaining({ t: 'error', code: 'RATE_LIMITED' }));
});

it('a target that stops reading misses group records instead of holding the sender back; the others get every one, in order', async () => {
  // A slow consumer timeout longer than the test: had the sender been held back, the reading target would starve.
  const running = await broker({ maxPayload: 65536, relayHighWaterMark: 128 * 1024, sendBufferLimit: 512 * 1024, slowConsumerTimeoutMs: 120_000 });
  const sender = await register(running, 'sender');
  const [stalled, reader] = await Promise.all(['stalled', 'reader'].map((eva) => register(running, eva)));
  await connect(sender, 'sender', [
    [stalled, 'stalled'],
    [reader, 'reader'],
  ]);
  sender.sendControl({ t: 'group', id: 'room', targets: ['stalled', 'reader'] });
  stalled.ws.pause();
  const chunk = 'x'.repeat(30_000);
  let sent = 0;
  const deadline = Date.now() + 30_000;
  // Loopback's kernel buffers absorb a few MB toward the stalled target before the broker's queue for it grows.
  while (running.broker.fanOutDropCount < 10) {
    if (Date.now() > deadline) throw new Error(`no group record dropped after ${sent}`);
    if (sender.closeCode !== null) throw new Error(`the sender was closed (${sender.closeCode} ${sender.closeReason})`);
    // Two records a frame (a frame stays below maxPayload), paced by the reader: at most 2 records (60 KB) ahead of
    // it, so only the stalled target ever lags past half of relayHighWaterMark (where fan-out starts dropping).
    if (sent + 2 - reader.data.length <= 2) {
      sender.sendRecords([
        [GROUP_TEXT, 'room', `${sent} ${chunk}`],
        [GROUP_TEXT, 'room', `${sent + 1} ${chunk}`],
      ]);
      sent += 2;
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  sender.sendRecords([[GROUP_TEXT, 'room', 'last']]);
  sent++;
  await reader.until(() => reader.data.length === sent || undefined, `${sent} messages at the reader`, 30_000);
  const order = (client: RawClient): number[] => client.data.map((d) => (d.payload === 'last' ? Infinity : Number(String(d.payload).split(' ')[0])));
  expect(order(reader)).toEqual([...Array.from({ length: sent - 1 }, (_, i) => i), Infinity]);
  expect(sender.closeCode).toBeNull();
  // The stalled target was neither closed nor sent everything: it gets a prefix of what was kept, in order.
  stalled.ws.resume();
  sender.sendText('stalled', 'end');
  await stalled.until(() => stalled.data.some((d) => d.payload === 'end') || undefined, 'the end marker', 30_000);
  const got = order(stalled).slice(0, -1);
  expect(got.length).toBeLessThan(sent);
  expect(got).toEqual([...got].sort((x, y) => x - y));
  expect(stalled.closeCode).toBeNull();
  expect(running.broker.fanOutDropCount).toBe(sent - got.length);
}, 60_000);

it('reaches targets on another broker of the cluster through the bus', async () => {
  const resources = trackResources();
  const shared = { router: new MemoryRouter(), bus: new MemoryBus() };
  const one = await broker(shared);
  const two = await broker(shared);
  const sender = await register(one, 'sender');
  const near = await register(one, 'near');
  const far = await register(two, 'far');
  await connect(sender, 'sender', [
    [near, 'near'],
    [far, 'far'],
  ]);
  sender.sendControl({ t: 'group', id: 'g', targets: ['near', 'far'] });
  sender.sendRecords([
    [GROUP_TEXT, 'g', 'one'],
    [TEXT, 'far', 'unicast'],
    [GROUP_BINARY, 'g', new Uint8Array([2])],
  ]);
  await far.until(() => far.data.length === 3 || undefined, 'three messages across the brokers');
  await near.until(() => near.data.length === 2 || undefined, 'two messages');
  expect(texts(far)).toEqual(['sender:one', 'sender:unicast', 'sender:[2]']);
  expect(texts(near)).toEqual(['sender:one', 'sender:[2]']);
  await Promise.all(brokers.splice(0).map((r) => r.close()));
  await resources.released(5000);
});
