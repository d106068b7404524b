// Sender keys (issue 17, encrypted rooms): a multicast over SecureHub is one ciphertext for all its targets, handed
// their key over their pairwise sessions. Real broker on 127.0.0.1 behind a recording proxy for the uplink figures;
// InBrowserHub (and UnreliableHub, TapHub) for order, pacing, lost keys and rekeying.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { Broker } from '@vnf/broker';
import { TapHub, uniqueEva, until } from '@vnf/conformance';
import { ConnectionStatus, VnfError, type Endpoint, type Hub } from '@vnf/core';
import { InBrowserHub } from '@vnf/in-browser-hub';
import { WebSocketFactory, WebSocketHub } from '@vnf/websocket-hub';
import { Identity, SecureHub, type SecureHubOptions } from '../src';
import { RecordType } from '../src/records';
import { RecordingProxy } from './support/recordingProxy';
import { findMarkers, markerForms } from './support/markerSearch';

const WAIT = 10_000;
const hubs: Hub[] = [];
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((hub) => hub.close().catch(() => undefined)));
});

function secure(inner: Hub, options: Partial<SecureHubOptions> = {}): SecureHub {
  const hub = new SecureHub(inner, { identity: Identity.generate(), ...options });
  hubs.push(hub);
  return hub;
}

/** `sender` connected to each of `members`, which record what they get. */
async function group(sender: Endpoint, members: Endpoint[]): Promise<Map<string, unknown[]>> {
  const got = new Map<string, unknown[]>();
  for (const member of members) {
    const messages: unknown[] = [];
    got.set(member.eva, messages);
    member.on('message', (event) => messages.push(event.message));
    expect((await sender.openConnection(member.eva)).status).toBe(ConnectionStatus.CONNECTED);
  }
  return got;
}

describe('a multicast through a real broker', () => {
  let broker: Broker;
  let proxy: RecordingProxy;
  let url: string;
  beforeAll(async () => {
    broker = new Broker();
    url = (await broker.listen({ port: 0, host: '127.0.0.1' })).url;
    const { port } = new URL(url);
    proxy = await RecordingProxy.start({ host: '127.0.0.1', port: Number(port) });
  });
  afterAll(async () => {
    await proxy?.close();
    await broker?.close();
  });

  /** The sender's uplink bytes for 100 multicasts of 1 000 random bytes to 5 members (the sender alone crosses the proxy). */
  async function uplinkFor(senderKeys: SecureHubOptions['senderKeys']): Promise<{ bytes: number; markersSeen: number }> {
    const senderHub = secure(new WebSocketHub(new WebSocketFactory(proxy.url())), { senderKeys });
    const memberHub = secure(new WebSocketHub(new WebSocketFactory(url)));
    const sender = senderHub.openEndpoint(uniqueEva('sender'));
    const members = Array.from({ length: 5 }, (_, i) => memberHub.openEndpoint(uniqueEva(`m${i}`)));
    const got = await group(sender, members);
    const targets = members.map((m) => m.eva);
    const before = proxy.bytesBy.up;
    const markers: Buffer[] = [];
    for (let i = 0; i < 100; i++) {
      const payload = randomBytes(1000);
      markers.push(payload.subarray(0, 16));
      sender.multicast(targets, new Uint8Array(payload));
      // One message a turn, as a chat sends: nothing is gained from batching.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    await until('every member to get all 100', WAIT, () => [...got.values()].every((messages) => messages.length === 100));
    for (const messages of got.values()) {
      expect(messages.map((m) => Buffer.from(m as Uint8Array).subarray(0, 16).toString('hex'))).toEqual(markers.map((m) => m.toString('hex')));
    }
    const bytes = proxy.bytesBy.up - before;
    const markersSeen = findMarkers(proxy.recording(), markers.flatMap((m) => markerForms(m.toString('hex')))).length;
    return { bytes, markersSeen };
  }

  it('leaves the sender once, as one ciphertext the broker fans out: about 1× the messages uplink, not 5×, with nothing readable', async () => {
    const grouped = await uplinkFor('signed');
    const pairwise = await uplinkFor('off');
    // 100 000 bytes of messages: a record each (header, tag, signature, framing) and the five keys handed once.
    expect(grouped.bytes).toBeLessThan(100_000 * 1.35);
    expect(pairwise.bytes).toBeGreaterThan(100_000 * 5);
    expect(grouped.markersSeen).toBe(0);
    expect(pairwise.markersSeen).toBe(0);
  }, WAIT * 3);
});

describe('sender keys over InBrowserHub', () => {
  it('a multicast and a send to the same member arrive in the order they were made', async () => {
    const hub = secure(new InBrowserHub());
    const a = hub.openEndpoint(uniqueEva('a'));
    const [b, c] = [hub.openEndpoint(uniqueEva('b')), hub.openEndpoint(uniqueEva('c'))];
    const got = await group(a, [b, c]);
    a.multicast([b.eva, c.eva], 'm1');
    a.send(b.eva, 's2');
    a.multicast([b.eva, c.eva], 'm3');
    a.multicast([b.eva, c.eva], new Uint8Array([4]));
    a.send(c.eva, 's5');
    await until('everything at b and c', WAIT, () => got.get(b.eva)!.length === 4 && got.get(c.eva)!.length === 4);
    expect(got.get(b.eva)).toEqual(['m1', 's2', 'm3', new Uint8Array([4])]);
    expect(got.get(c.eva)).toEqual(['m1', 'm3', new Uint8Array([4]), 's5']);
  });

  it('the messages of one turn to one set travel in one record, and bufferedAmount counts them until it leaves', async () => {
    const tapHub = new TapHub(new InBrowserHub());
    const hub = secure(tapHub);
    const a = hub.openEndpoint(uniqueEva('a'));
    const [b, c] = [hub.openEndpoint(uniqueEva('b')), hub.openEndpoint(uniqueEva('c'))];
    const got = await group(a, [b, c]);
    let groupRecordsToB = 0;
    tapHub.tap = (record, _from, to, forward) => {
      if (to === b.eva && record[0] === RecordType.group) groupRecordsToB++;
      forward(record);
    };
    for (let i = 0; i < 50; i++) a.multicast([b.eva, c.eva], `m${i}`);
    expect(a.bufferedAmount(b.eva)).toBeGreaterThanOrEqual(50 * 2);
    await until('all 50 at b', WAIT, () => got.get(b.eva)!.length === 50);
    expect(got.get(b.eva)).toEqual(Array.from({ length: 50 }, (_, i) => `m${i}`));
    expect(groupRecordsToB).toBe(1);
    expect(a.bufferedAmount(b.eva)).toBe(0);
  });

  it('a sender pacing on bufferedAmount and drain moves on: the turn\'s multicasts leave once past highWaterMark', async () => {
    const hub = secure(new InBrowserHub({ highWaterMark: 64 * 1024, lowWaterMark: 0 }));
    const a = hub.openEndpoint(uniqueEva('a'));
    const [b, c] = [hub.openEndpoint(uniqueEva('b')), hub.openEndpoint(uniqueEva('c'))];
    const got = await group(a, [b, c]);
    const chunk = new Uint8Array(8 * 1024);
    let sent = 0;
    // At most a few hundred in a turn: the batch is sealed at 64 KiB, and what is beneath then counts.
    while (a.bufferedAmount(b.eva) <= 64 * 1024 && sent < 1000) {
      a.multicast([b.eva, c.eva], chunk);
      sent++;
    }
    expect(sent).toBeLessThan(1000);
    await until(`all ${sent} at b and c`, WAIT, () => got.get(b.eva)!.length === sent && got.get(c.eva)!.length === sent);
  });

  it('a member whose key was lost beneath asks for it, and reads what follows (ordered: false)', async () => {
    const tapHub = new TapHub(new InBrowserHub());
    const hub = secure(tapHub, { ordered: false });
    const a = hub.openEndpoint(uniqueEva('a'));
    const [b, c] = [hub.openEndpoint(uniqueEva('b')), hub.openEndpoint(uniqueEva('c'))];
    const got = await group(a, [b, c]);
    // The first record to b after this point is the key of the set {b, c}: lost.
    let dropped = false;
    let toB = 0;
    tapHub.tap = (record, from, to, forward) => {
      if (from === a.eva && to === b.eva) {
        if (!dropped) {
          dropped = true;
          return;
        }
        toB++;
      }
      forward(record);
    };
    a.multicast([b.eva, c.eva], 'g1');
    // b gets g1's record without the key, asks; a hands the key again (a second record to b after g1's).
    await until('the key handed to b again', WAIT, () => toB === 2);
    a.multicast([b.eva, c.eva], 'g2');
    await until('g2 at b', WAIT, () => got.get(b.eva)!.includes('g2'));
    expect(got.get(b.eva)).toEqual(['g2']);
    expect(got.get(c.eva)).toEqual(['g1', 'g2']);
  });

  it('a set gets a new key after rekeyAfterMessages, and its members read on', async () => {
    const tapHub = new TapHub(new InBrowserHub());
    const hub = secure(tapHub, { rekeyAfterMessages: 3 });
    const a = hub.openEndpoint(uniqueEva('a'));
    const [b, c] = [hub.openEndpoint(uniqueEva('b')), hub.openEndpoint(uniqueEva('c'))];
    const got = await group(a, [b, c]);
    const keyIds = new Set<number>();
    tapHub.tap = (record, _from, _to, forward) => {
      if (record[0] === RecordType.group) keyIds.add(new DataView(record.buffer, record.byteOffset).getUint32(1));
      forward(record);
    };
    for (let i = 0; i < 10; i++) {
      a.multicast([b.eva, c.eva], `m${i}`);
      await until(`m${i} at b and c`, WAIT, () => got.get(b.eva)!.length === i + 1 && got.get(c.eva)!.length === i + 1);
    }
    expect(keyIds.size).toBe(4);
    expect(got.get(b.eva)).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`));
  });

  it("with senderKeys: 'unsigned' records carry no signature, and members read them", async () => {
    const tapHub = new TapHub(new InBrowserHub());
    const signedHub = secure(tapHub);
    const unsignedHub = secure(tapHub, { senderKeys: 'unsigned' });
    const sizes = new Map<string, number>();
    tapHub.tap = (record, from, _to, forward) => {
      if (record[0] === RecordType.group) sizes.set(from, record.length);
      forward(record);
    };
    for (const hub of [signedHub, unsignedHub]) {
      const a = hub.openEndpoint(uniqueEva('a'));
      const [b, c] = [signedHub.openEndpoint(uniqueEva('b')), signedHub.openEndpoint(uniqueEva('c'))];
      const got = await group(a, [b, c]);
      a.multicast([b.eva, c.eva], 'hello');
      await until('hello at b and c', WAIT, () => got.get(b.eva)!.length === 1 && got.get(c.eva)!.length === 1);
    }
    const [signed, unsigned] = [...sizes.values()];
    expect(signed! - unsigned!).toBe(64);
  });

  it('a message too large for a group record goes pairwise, and arrives', async () => {
    const network = new InBrowserHub({ maxPayloadSize: 4096 });
    const hub = secure(network);
    const a = hub.openEndpoint(uniqueEva('a'));
    const [b, c] = [hub.openEndpoint(uniqueEva('b')), hub.openEndpoint(uniqueEva('c'))];
    const got = await group(a, [b, c]);
    const largest = new Uint8Array(hub.maxPayloadSize).fill(7);
    a.multicast([b.eva, c.eva], largest);
    a.multicast([b.eva, c.eva], 'small');
    await until('both at b and c', WAIT, () => got.get(b.eva)!.length === 2 && got.get(c.eva)!.length === 2);
    expect(got.get(b.eva)).toEqual([largest, 'small']);
  });

  it('refuses an unknown senderKeys mode at construction', () => {
    expect(() => new SecureHub(new InBrowserHub(), { identity: Identity.generate(), senderKeys: 'sometimes' as never })).toThrow(VnfError);
  });
});
