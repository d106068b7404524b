// Endpoint.multicast through the broker: one group record leaves the sender per message, however many targets, and
// the broker copies it to each (docs/protocol.md, Groups); against a broker offering no groups, one record per target.
import { trackResources } from '@vnf/conformance';
import type { BrokerOptions } from '@vnf/broker';
import { WebSocketFactory, WebSocketHub, type VnfSocket, type WebSocketEndpoint } from '../src';
import { FAST_RECONNECT, nextEvent, startBroker, until, type RunningBroker } from './brokerFixture';

let running: RunningBroker | null = null;
const hubs: WebSocketHub[] = [];
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((hub) => hub.close()));
  await running?.close();
  running = null;
});

/** A factory whose sockets count the bytes of the binary frames they send. */
class CountingFactory extends WebSocketFactory {
  sentBytes = 0;

  override create(): VnfSocket {
    const socket = super.create();
    const send = socket.send.bind(socket);
    socket.send = (data, written) => {
      if (typeof data !== 'string') this.sentBytes += data.byteLength;
      send(data, written);
    };
    return socket;
  }
}

interface Room {
  sender: WebSocketEndpoint;
  counter: CountingFactory;
  members: WebSocketEndpoint[];
  /** What each member received, as `source:message`. */
  got: Map<string, string[]>;
}

/** A sender on a counting socket, connected to `size` members on another hub. */
async function room(size: number, options: BrokerOptions = {}): Promise<Room> {
  running = await startBroker(options);
  const counter = new CountingFactory(running.url, { reconnect: FAST_RECONNECT });
  const senderHub = new WebSocketHub(counter);
  const membersHub = new WebSocketHub(running.factory());
  hubs.push(senderHub, membersHub);
  const members = Array.from({ length: size }, (_, i) => membersHub.openEndpoint(`member-${i}`));
  const got = new Map<string, string[]>();
  for (const member of members) {
    const seen: string[] = [];
    got.set(member.eva, seen);
    member.onMessage = (e) => seen.push(`${e.sourceEva}:${typeof e.message === 'string' ? e.message : `[${[...(e.message as Uint8Array)].join(',')}]`}`);
  }
  const sender = senderHub.openEndpoint('sender');
  for (const member of members) expect((await sender.openConnection(member.eva)).status).toBe('CONNECTED');
  await until(() => members.every((m) => m.isConnected('sender')), 'every member to see the sender');
  return { sender, counter, members, got };
}

const errorsOf = (endpoint: WebSocketEndpoint): unknown[] => {
  const errors: unknown[] = [];
  endpoint.on('error', (err) => errors.push(err));
  return errors;
};

it('a multicast leaves the sender once (uplink ≤ 1.1 × the messages) and each connected target gets it once, stamped with the sender', async () => {
  const resources = trackResources();
  const { sender, counter, members, got } = await room(10);
  const errors = errorsOf(sender);
  const loner = hubs[1].openEndpoint('loner');
  await loner.firstAttempt;
  const lonerGot: string[] = [];
  loner.onMessage = (e) => lonerGot.push(String(e.message));
  // Not connected, and nobody at all: multicast leaves them out; a duplicate is delivered once.
  const targets = [...members.map((m) => m.eva), 'loner', 'ghost', members[0].eva];
  sender.multicast(targets, 'warm-up');
  await until(() => members.every((m) => got.get(m.eva)!.length === 1), 'the warm-up everywhere');
  const message = 'x'.repeat(10_000);
  const before = counter.sentBytes;
  for (let i = 0; i < 50; i++) sender.multicast(targets, `${i}${message}`);
  sender.multicast(targets, new Uint8Array([7, 8]));
  await until(() => members.every((m) => got.get(m.eva)!.length === 52), 'every multicast everywhere');
  expect(counter.sentBytes - before).toBeLessThanOrEqual(1.1 * 50 * message.length);
  for (const member of members) {
    expect(got.get(member.eva)).toEqual(['sender:warm-up', ...Array.from({ length: 50 }, (_, i) => `sender:${i}${message}`), 'sender:[7,8]']);
  }
  expect((await sender.openConnection('loner')).status).toBe('CONNECTED');
  sender.send('loner', 'end');
  await until(() => lonerGot.length > 0, 'the end marker');
  expect(lonerGot).toEqual(['end']);
  expect(errors).toEqual([]);
  await Promise.all(hubs.splice(0).map((hub) => hub.close()));
  await running!.close();
  running = null;
  await resources.released(5000);
});

it('unicast and multicast keep their order per target', async () => {
  const { sender, members, got } = await room(3);
  const [b, c, d] = members.map((m) => m.eva);
  for (let i = 0; i < 20; i++) {
    sender.send(b, `u${i}`);
    sender.multicast([b, c], `m${i}`);
    sender.multicast([c, d], `n${i}`);
  }
  await until(() => got.get(b)!.length === 40 && got.get(c)!.length === 40 && got.get(d)!.length === 20, 'every message');
  expect(got.get(b)).toEqual(Array.from({ length: 20 }, (_, i) => [`sender:u${i}`, `sender:m${i}`]).flat());
  expect(got.get(c)).toEqual(Array.from({ length: 20 }, (_, i) => [`sender:m${i}`, `sender:n${i}`]).flat());
  expect(got.get(d)).toEqual(Array.from({ length: 20 }, (_, i) => `sender:n${i}`));
});

it("falls back to one record per target when the broker's welcome announces no groups (a broker predating them)", async () => {
  const { sender, counter, members, got } = await room(4, { maxGroupsPerSocket: 0 });
  const errors = errorsOf(sender);
  const message = 'y'.repeat(10_000);
  const before = counter.sentBytes;
  for (let i = 0; i < 10; i++) sender.multicast(members.map((m) => m.eva), `${i}${message}`);
  await until(() => members.every((m) => got.get(m.eva)!.length === 10), 'every multicast everywhere');
  expect(counter.sentBytes - before).toBeGreaterThanOrEqual(4 * 10 * message.length);
  for (const member of members) expect(got.get(member.eva)).toEqual(Array.from({ length: 10 }, (_, i) => `sender:${i}${message}`));
  expect(errors).toEqual([]);
});

it('keeps within the broker’s maxGroupsPerSocket (the least recently used list is redefined) and splits lists longer than maxGroupTargets', async () => {
  const { sender, members, got } = await room(6, { maxGroupsPerSocket: 2, maxGroupTargets: 3 });
  const errors = errorsOf(sender);
  const evas = members.map((m) => m.eva);
  const lists = [evas.slice(0, 2), evas.slice(1, 4), evas.slice(2, 5), evas];
  for (let i = 0; i < 12; i++) sender.multicast(lists[i % lists.length], `m${i}`);
  const expected = new Map(evas.map((eva) => [eva, [] as string[]]));
  for (let i = 0; i < 12; i++) for (const eva of lists[i % lists.length]) expected.get(eva)!.push(`sender:m${i}`);
  await until(() => evas.every((eva) => got.get(eva)!.length === expected.get(eva)!.length), 'every multicast everywhere');
  for (const eva of evas) expect(got.get(eva)).toEqual(expected.get(eva));
  expect(errors).toEqual([]);
});

it('forgets its groups with its socket: after a reconnect the lists are defined anew', async () => {
  const { sender, members, got } = await room(3);
  const errors = errorsOf(sender);
  const evas = members.map((m) => m.eva);
  sender.multicast(evas, 'before');
  await until(() => evas.every((eva) => got.get(eva)!.length === 1), 'the first multicast');
  const online = nextEvent(sender, 'online');
  expect(running!.broker.terminate('sender')).toBe(true);
  await online;
  for (const eva of evas) expect((await sender.openConnection(eva)).status).toBe('CONNECTED');
  await until(() => members.every((m) => m.isConnected('sender')), 'every member to see the sender again');
  sender.multicast(evas, 'after');
  await until(() => evas.every((eva) => got.get(eva)!.length === 2), 'the multicast after the reconnect');
  for (const eva of evas) expect(got.get(eva)).toEqual(['sender:before', 'sender:after']);
  expect(errors).toEqual([]);
});

it('multicasting to ever new lists keeps group definitions within a share of the control budget instead of being closed for flooding', async () => {
  // 10 definitions a second at most (a quarter of 40); the 45 lists below would be 45 control messages at once.
  const { sender, counter, members, got } = await room(10, { maxControlPerSecond: 40 });
  const errors = errorsOf(sender);
  const offline = jest.fn();
  sender.on('offline', offline);
  const evas = members.map((m) => m.eva);
  const pairs: string[][] = [];
  for (let i = 0; i < evas.length; i++) for (let j = i + 1; j < evas.length; j++) pairs.push([evas[i], evas[j]]);
  const before = counter.sentBytes;
  const message = 'z'.repeat(1000);
  pairs.forEach((pair, n) => sender.multicast(pair, `${n}${message}`));
  await until(() => evas.every((eva) => got.get(eva)!.length === evas.length - 1), 'every multicast everywhere');
  for (const eva of evas) {
    expect(got.get(eva)).toEqual(pairs.flatMap((pair, n) => (pair.includes(eva) ? [`sender:${n}${message}`] : [])));
  }
  // Some lists went as groups (one record), the others as one record per target.
  const sent = counter.sentBytes - before;
  expect(sent).toBeGreaterThan(1.5 * pairs.length * message.length);
  expect(sent).toBeLessThan(2 * pairs.length * message.length);
  expect(errors).toEqual([]);
  expect(offline).not.toHaveBeenCalled();
});
