import { InBrowserHub } from '@vnf/in-browser-hub';
import type { Endpoint } from '@vnf/core';
import { MarshallerHub } from '../src';
import type { MarshallerEndpoint, MarshallerHubOptions } from '../src';
import { Recorder, closeAll, connect, track } from './support/helpers';

afterEach(closeAll);

// Frames are built by hand here, byte by byte, so these tests pin the wire format documented in README.md.
const SINGLE = 0x01;
const START = 0x02;
const CHUNK = 0x03;
const Kind = { STRING: 0, BINARY: 1, JSON: 2, MIXED: 3 };

function u32(n: number): number[] {
  return [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}
const utf8 = (s: string): number[] => [...new TextEncoder().encode(s)];
const single = (body: number[]): Uint8Array => Uint8Array.from([SINGLE, ...body]);
const start = (id: number, total: number, data: number[]): Uint8Array => Uint8Array.from([START, ...u32(id), ...u32(total), ...data]);
const chunk = (id: number, data: number[]): Uint8Array => Uint8Array.from([CHUNK, ...u32(id), ...data]);
const stringBody = (s: string): number[] => [Kind.STRING, ...utf8(s)];

/** A MarshallerHub endpoint `m` and a raw endpoint `raw` of the inner hub, connected, so a test speaks frames to `m`. */
async function rawPeer(
  options: MarshallerHubOptions = {},
): Promise<{ inner: InBrowserHub; m: MarshallerEndpoint; raw: Endpoint; atM: Recorder }> {
  const inner = new InBrowserHub();
  const hub = track(new MarshallerHub(inner, options));
  const m = hub.openEndpoint('m');
  const raw = inner.openEndpoint('raw');
  const atM = new Recorder(m);
  await connect(raw, m);
  return { inner, m, raw, atM };
}

describe('frames from the peer', () => {
  it('reads hand-built frames of every kind', async () => {
    const { m, raw, atM } = await rawPeer();
    raw.send(m.eva, single(stringBody('plain')));
    raw.send(m.eva, single([Kind.BINARY, 1, 2, 3]));
    raw.send(m.eva, single([Kind.JSON, ...utf8('{"a":[1,true]}')]));
    raw.send(m.eva, single([Kind.MIXED, ...u32(1), ...u32(2), ...utf8('{"b":"\\u00000","s":"\\u0000\\u0000x"}'), 9, 8]));
    const body = stringBody('split over three frames');
    raw.send(m.eva, start(7, body.length, body.slice(0, 5)));
    raw.send(m.eva, chunk(7, body.slice(5, 10)));
    raw.send(m.eva, chunk(7, body.slice(10)));
    await atM.messageCount(5);
    expect(atM.messages).toEqual(['plain', Uint8Array.of(1, 2, 3), { a: [1, true] }, { b: Uint8Array.of(9, 8), s: '\u0000x' }, 'split over three frames']);
    expect(atM.errors).toEqual([]);
  });

  it.each<[string, string | Uint8Array]>([
    ['a string payload', 'not a frame'],
    ['an empty frame', new Uint8Array(0)],
    ['an unknown frame type', Uint8Array.of(0x09, 1, 2)],
    ['a truncated START', Uint8Array.of(START, 0, 0)],
    ['a truncated CHUNK', Uint8Array.of(CHUNK, 0)],
    ['a CHUNK of a message never started', chunk(42, [1, 2, 3])],
    ['an empty body', single([])],
    ['a body of unknown kind', single([7, 1])],
    ['a string that is not UTF-8', single([Kind.STRING, 0xff, 0xfe])],
    ['JSON that does not parse', single([Kind.JSON, ...utf8('{"a":')])],
    ['a reference to a missing binary', single([Kind.MIXED, ...u32(0), ...utf8('"\\u00003"')])],
    ['more binary parts than bytes', single([Kind.MIXED, ...u32(1000), 1, 2])],
    ['binary longer than the body', single([Kind.MIXED, ...u32(1), ...u32(500), ...utf8('1')])],
    ['a START carrying more than it announces', start(1, 2, [Kind.STRING, 65, 66, 67])],
  ])('reports %s as a PROTOCOL error event and keeps working', async (_name, frame) => {
    const { m, raw, atM } = await rawPeer();
    raw.send(m.eva, frame);
    raw.send(m.eva, single(stringBody('still alive')));
    await atM.messageCount(1);
    expect(atM.events).toEqual(['error:PROTOCOL', 'message:still alive']);
    expect(m.isConnected(raw.eva)).toBe(true);
  });

  it('drops a message whose chunks overflow the size it announced', async () => {
    const { m, raw, atM } = await rawPeer();
    raw.send(m.eva, start(3, 6, stringBody('abc')));
    raw.send(m.eva, chunk(3, utf8('defgh')));
    raw.send(m.eva, chunk(3, utf8('i')));
    raw.send(m.eva, single(stringBody('next')));
    await atM.messageCount(1);
    expect(atM.events).toEqual(['error:PROTOCOL', 'message:next']);
  });
});

describe('bounded memory', () => {
  it('rejects a message announced over maxMessageSize with one TOO_LARGE error and ignores its chunks', async () => {
    const { m, raw, atM } = await rawPeer({ maxMessageSize: 1000 });
    raw.send(m.eva, start(0, 1_000_000, stringBody('x'.repeat(20))));
    for (let i = 0; i < 5; i++) raw.send(m.eva, chunk(0, utf8('y'.repeat(50))));
    raw.send(m.eva, single(stringBody('next')));
    await atM.messageCount(1);
    expect(atM.events).toEqual(['error:TOO_LARGE', 'message:next']);
    expect(atM.errors[0].details).toMatchObject({ size: 999_999, limit: 1000 });
  });

  it('rejects a single frame over maxMessageSize', async () => {
    const { m, raw, atM } = await rawPeer({ maxMessageSize: 10 });
    raw.send(m.eva, single(stringBody('eleven char')));
    raw.send(m.eva, single(stringBody('ten chars!')));
    await atM.messageCount(1);
    expect(atM.events).toEqual(['error:TOO_LARGE', 'message:ten chars!']);
  });

  it('discards a message stalled for reassemblyTimeoutMs with a TIMEOUT error, then ignores its late chunks', async () => {
    const { m, raw, atM } = await rawPeer({ reassemblyTimeoutMs: 100 });
    const body = stringBody('never finished');
    raw.send(m.eva, start(5, body.length, body.slice(0, 4)));
    await atM.errorCount(1);
    expect(atM.errors[0].code).toBe('TIMEOUT');
    raw.send(m.eva, chunk(5, body.slice(4)));
    raw.send(m.eva, single(stringBody('after')));
    await atM.messageCount(1);
    expect(atM.events).toEqual(['error:TIMEOUT', 'message:after']);
  });

  it('with strictOrder, a message dropped for silence releases the ones held behind it', async () => {
    const { m, raw, atM } = await rawPeer({ strictOrder: true, reassemblyTimeoutMs: 100 });
    const body = stringBody('stalls');
    raw.send(m.eva, single(stringBody('first')));
    raw.send(m.eva, start(0, body.length, body.slice(0, 3)));
    raw.send(m.eva, single(stringBody('held')));
    const other = stringBody('completes later');
    raw.send(m.eva, start(1, other.length, other.slice(0, 3)));
    raw.send(m.eva, chunk(1, other.slice(3)));
    await atM.messageCount(3);
    expect(atM.events).toEqual(['message:first', 'error:TIMEOUT', 'message:held', 'message:completes later']);
  });
});

describe('connection loss', () => {
  it('discards a half-received message with an error event, and nothing of it is delivered after reconnecting', async () => {
    const { m, raw, atM } = await rawPeer();
    const body = stringBody('half');
    raw.send(m.eva, start(0, body.length, body.slice(0, 2)));
    raw.closeConnection(m.eva);
    await atM.until('lost and error', () => atM.events.includes(`lost:${raw.eva}`) && atM.errors.length === 1);
    expect(atM.errors[0].code).toBe('UNAVAILABLE');
    expect(atM.errors[0].details).toMatchObject({ peer: raw.eva, discarded: 1 });
    await connect(raw, m);
    raw.send(m.eva, chunk(0, body.slice(2)));
    raw.send(m.eva, single(stringBody('fresh')));
    await atM.messageCount(1);
    expect(atM.messages).toEqual(['fresh']);
    expect(atM.errors.map((e) => e.code)).toEqual(['UNAVAILABLE', 'PROTOCOL']);
  });
});
