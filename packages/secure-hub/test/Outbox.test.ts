// The turn's batch (Outbox): the messages of one turn to one peer travel in one record, and none is lost to
// backpressure — a batch refused beneath (BUFFER_FULL) waits for beneath's drain, and sends throw BUFFER_FULL until then.
import { afterEach, describe, expect, it } from '@jest/globals';
import { TapHub, uniqueEva, until } from '@vnf/conformance';
import { ConnectionStatus, VnfError, type Hub } from '@vnf/core';
import { InBrowserHub } from '@vnf/in-browser-hub';
import { ReliableHub } from '@vnf/reliable-hub';
import { Identity, SecureHub } from '../src';
import { RecordType } from '../src/records';

const WAIT = 10_000;
const hubs: Hub[] = [];
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((hub) => hub.close().catch(() => undefined)));
});

describe('Outbox', () => {
  it('the messages of one turn to one peer travel in one record, in order, each delivered once', async () => {
    const tapHub = new TapHub(new InBrowserHub());
    const hub = new SecureHub(tapHub, { identity: Identity.generate() });
    hubs.push(hub);
    const a = hub.openEndpoint(uniqueEva('a'));
    const b = hub.openEndpoint(uniqueEva('b'));
    expect((await a.openConnection(b.eva)).status).toBe(ConnectionStatus.CONNECTED);
    const got: unknown[] = [];
    b.on('message', (event) => got.push(event.message));
    let records = 0;
    tapHub.tap = (record, from, _to, forward) => {
      if (from === a.eva && record[0] === RecordType.transport) records++;
      forward(record);
    };
    for (let i = 0; i < 100; i++) a.send(b.eva, i % 2 === 0 ? `m${i}` : new Uint8Array([i]));
    expect(a.bufferedAmount(b.eva)).toBeGreaterThan(100);
    await until('all 100 at b', WAIT, () => got.length === 100);
    expect(got).toEqual(Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? `m${i}` : new Uint8Array([i]))));
    expect(records).toBe(1);
  });

  it('over a hub that refuses (ReliableHub at maxBufferedMessages), a paced sender loses nothing: BUFFER_FULL at the call, then drain', async () => {
    const hub = new SecureHub(new ReliableHub(new InBrowserHub(), { maxBufferedMessages: 8 }), { identity: Identity.generate() });
    hubs.push(hub);
    const a = hub.openEndpoint(uniqueEva('a'));
    const b = hub.openEndpoint(uniqueEva('b'));
    expect((await a.openConnection(b.eva)).status).toBe(ConnectionStatus.CONNECTED);
    const got: number[] = [];
    b.on('message', (event) => got.push((event.message as Uint8Array)[0]! + 256 * (event.message as Uint8Array)[1]!));
    const total = 300;
    let sent = 0;
    let refusals = 0;
    while (sent < total) {
      const message = new Uint8Array(20_000);
      message[0] = sent % 256;
      message[1] = Math.floor(sent / 256);
      try {
        a.send(b.eva, message);
        sent++;
      } catch (err) {
        if (!VnfError.is(err, 'BUFFER_FULL')) throw err;
        refusals++;
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no drain after BUFFER_FULL at message ${sent}`)), WAIT);
          a.once('drain', () => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    }
    await until(`all ${total} at b`, WAIT, () => got.length === total);
    expect(got).toEqual(Array.from({ length: total }, (_, i) => i));
    expect(refusals).toBeGreaterThan(0);
  });
});
