import { VnfError, type Endpoint } from '@vnf/core';
import { InBrowserHub } from '@vnf/in-browser-hub';
import { DEFAULT_CHUNK_SIZE, DEFAULT_MAX_MESSAGE_SIZE, MIN_CHUNK_SIZE, MarshallerHub } from '../src';
import type { MarshallerHubOptions } from '../src';
import { closeAll, marshallerPair, pattern, sameBytes, track } from './support/helpers';

afterEach(closeAll);

function expectCode(fn: () => unknown, code: string): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(VnfError.is(thrown) ? thrown.code : thrown).toBe(code);
}

describe('construction', () => {
  it('fills in documented defaults and reads the inner frame size', () => {
    const hub = track(new MarshallerHub(new InBrowserHub()));
    expect(hub.options).toEqual({
      maxMessageSize: DEFAULT_MAX_MESSAGE_SIZE,
      chunkSize: DEFAULT_CHUNK_SIZE,
      strictOrder: false,
      reassemblyTimeoutMs: 30_000,
      // Its low mark is at least the inner hub's high mark (InBrowserHub: 256 KiB), so the inner drain comes first.
      highWaterMark: 4 * 1024 * 1024,
      lowWaterMark: 1024 * 1024,
      innerHighWaterMark: 256 * 1024,
    });
    expect([hub.highWaterMark, hub.lowWaterMark]).toEqual([4 * 1024 * 1024, 1024 * 1024]);
    // Over a hub whose high mark is above the default low mark, the low mark follows it.
    const deep = track(new MarshallerHub(new InBrowserHub({ highWaterMark: 2 * 1024 * 1024, lowWaterMark: 1024 })));
    expect([deep.lowWaterMark, deep.highWaterMark]).toEqual([2 * 1024 * 1024, 4 * 1024 * 1024]);
    expect(() => new MarshallerHub(new InBrowserHub(), { lowWaterMark: 1024 })).toThrow(/at least the inner hub's highWaterMark/);
    expect(hub.maxPayloadSize).toBe(DEFAULT_MAX_MESSAGE_SIZE);
    const small = track(new MarshallerHub(new InBrowserHub({ maxPayloadSize: 1000 }), { maxMessageSize: 5000 }));
    expect(small.options.chunkSize).toBe(250);
    expect(small.maxPayloadSize).toBe(5000);
  });

  it("takes a quarter of the inner hub's frame size as chunkSize, up to DEFAULT_CHUNK_SIZE, at least MIN_CHUNK_SIZE", () => {
    expect(DEFAULT_CHUNK_SIZE).toBe(256 * 1024);
    const rtcSized = track(new MarshallerHub(new InBrowserHub({ maxPayloadSize: 64 * 1024 })));
    expect(rtcSized.options.chunkSize).toBe(16 * 1024);
    const odd = track(new MarshallerHub(new InBrowserHub({ maxPayloadSize: 1023 })));
    expect(odd.options.chunkSize).toBe(255);
    const tiny = track(new MarshallerHub(new InBrowserHub({ maxPayloadSize: 100 })));
    expect(tiny.options.chunkSize).toBe(MIN_CHUNK_SIZE);
    const unbounded = track(new MarshallerHub(new InBrowserHub({ maxPayloadSize: Infinity })));
    expect(unbounded.options.chunkSize).toBe(DEFAULT_CHUNK_SIZE);
  });

  it.each<[string, MarshallerHubOptions]>([
    ['chunkSize above the inner maxPayloadSize', { chunkSize: 2000 }],
    ['chunkSize below the minimum', { chunkSize: 63 }],
    ['a fractional chunkSize', { chunkSize: 100.5 }],
    ['maxMessageSize 0', { maxMessageSize: 0 }],
    ['maxMessageSize above 32 bits', { maxMessageSize: 2 ** 32 }],
    ['a non-boolean strictOrder', { strictOrder: 'yes' as unknown as boolean }],
    ['reassemblyTimeoutMs 0', { reassemblyTimeoutMs: 0 }],
    ['an infinite reassemblyTimeoutMs', { reassemblyTimeoutMs: Infinity }],
    ['a negative highWaterMark', { highWaterMark: -1 }],
  ])('rejects %s with INVALID_ARGUMENT', (_name, options) => {
    expectCode(() => new MarshallerHub(new InBrowserHub({ maxPayloadSize: 1000 }), options), 'INVALID_ARGUMENT');
  });

  it('rejects a missing inner hub and one whose frames are too small', () => {
    expectCode(() => new MarshallerHub(undefined as unknown as InBrowserHub), 'INVALID_ARGUMENT');
    expectCode(() => new MarshallerHub(new InBrowserHub({ maxPayloadSize: 10 })), 'INVALID_ARGUMENT');
  });

  it('rejects a misspelt option with INVALID_ARGUMENT naming the option meant', () => {
    const inner = new InBrowserHub();
    expect(() => new MarshallerHub(inner, { maxMesageSize: 1 } as MarshallerHubOptions)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('"maxMessageSize"') }),
    );
    void inner.close();
  });
});

describe('round trips', () => {
  class Point {
    constructor(
      readonly x: number,
      readonly y: number,
    ) {}
  }

  it('carries every kind of JSON value', async () => {
    const { a, b, atB } = await marshallerPair();
    const values: unknown[] = [
      null,
      true,
      false,
      0,
      -1.5,
      1e300,
      Number.MAX_SAFE_INTEGER,
      '',
      'héllo wörld 🎉',
      '\u0000starts with NUL',
      '\u0000',
      'lone \ud800 surrogate',
      [],
      {},
      [1, 'two', null, [3, [4]], { five: 5 }],
      { nested: { deeper: { list: [true, false], text: '\u0000x' } }, 'key with "quotes"': 1, '': 'empty key' },
    ];
    for (const value of values) a.send(b.eva, value);
    await atB.messageCount(values.length);
    expect(atB.messages).toEqual(values);
  });

  it('keeps strings exact where UTF-8 alone would change them: a leading BOM, lone surrogates, at the top and nested', async () => {
    const { a, b, atB } = await marshallerPair();
    const values: unknown[] = [
      '\uFEFF',
      '\uFEFFtext after a BOM',
      '\uFEFF\uFEFF',
      'x\uD800',
      '\uDC00',
      '\uD800\uD800',
      'a\uDBFFb\uDFFF',
      '\uFEFF\uD800',
      { '\uD800key': '\uDFFF', bom: '\uFEFF', list: ['\uFEFFx', 'y\uDC00'] },
      { bytes: Uint8Array.of(1, 2), text: '\uD800', bom: '\uFEFF' },
    ];
    for (const value of values) a.send(b.eva, value);
    await atB.messageCount(values.length);
    expect(atB.messages).toEqual(values);
  });

  it('serializes like JSON.stringify: toJSON, class instances, undefined properties left out', async () => {
    const { a, b, atB } = await marshallerPair();
    const date = new Date(Date.UTC(2024, 0, 2, 3, 4, 5));
    a.send(b.eva, { date, point: new Point(1, 2), optional: undefined, kept: 1 });
    await atB.messageCount(1);
    expect(atB.messages[0]).toEqual({ date: date.toISOString(), point: { x: 1, y: 2 }, kept: 1 });
    expect(Object.keys(atB.messages[0] as object)).not.toContain('optional');
  });

  it('carries binary alone, as Uint8Array, ArrayBuffer, Buffer or a view, delivered as Uint8Array', async () => {
    const { a, b, atB } = await marshallerPair();
    const bytes = pattern(300, 1);
    const backing = pattern(100, 2);
    a.send(b.eva, bytes);
    a.send(b.eva, pattern(50, 3).buffer);
    a.send(b.eva, Buffer.from(pattern(40, 4)));
    a.send(b.eva, backing.subarray(10, 20));
    a.send(b.eva, new Uint8Array(0));
    await atB.messageCount(5);
    for (const message of atB.messages) expect(Object.getPrototypeOf(message)).toBe(Uint8Array.prototype);
    expect(sameBytes(atB.messages[0], bytes)).toBe(true);
    expect(sameBytes(atB.messages[1], pattern(50, 3))).toBe(true);
    expect(sameBytes(atB.messages[2], pattern(40, 4))).toBe(true);
    expect(sameBytes(atB.messages[3], backing.subarray(10, 20))).toBe(true);
    expect(sameBytes(atB.messages[4], new Uint8Array(0))).toBe(true);
  });

  it('carries binary nested anywhere, without turning Buffers into arrays of numbers', async () => {
    const { a, b, atB } = await marshallerPair();
    const one = pattern(1000, 5);
    const two = Buffer.from(pattern(20_000, 6));
    const three = pattern(7, 7).buffer;
    a.send(b.eva, { one, list: [1, two, { three, empty: new Uint8Array(0) }], text: '\u0000not a placeholder', n: 4 });
    await atB.messageCount(1);
    const got = atB.messages[0] as {
      one: Uint8Array;
      list: [number, Uint8Array, { three: Uint8Array; empty: Uint8Array }];
      text: string;
      n: number;
    };
    expect(sameBytes(got.one, one)).toBe(true);
    expect(sameBytes(got.list[1], new Uint8Array(two))).toBe(true);
    expect(sameBytes(got.list[2].three, pattern(7, 7))).toBe(true);
    expect(sameBytes(got.list[2].empty, new Uint8Array(0))).toBe(true);
    expect(got.list[0]).toBe(1);
    expect(got.text).toBe('\u0000not a placeholder');
    expect(got.n).toBe(4);
  });

  it('carries multi-megabyte messages byte-exact: binary, nested binary and long strings', async () => {
    const { a, b, atB } = await marshallerPair();
    const big = pattern(5 * 1024 * 1024 + 17, 8);
    const text = 'ü€'.repeat(700_000);
    a.send(b.eva, big);
    a.send(b.eva, { label: 'nested', data: [pattern(3 * 1024 * 1024, 9)], text });
    await atB.messageCount(2);
    expect(sameBytes(atB.messages[0], big)).toBe(true);
    const nested = atB.messages[1] as { label: string; data: Uint8Array[]; text: string };
    expect(nested.label).toBe('nested');
    expect(sameBytes(nested.data[0], pattern(3 * 1024 * 1024, 9))).toBe(true);
    expect(nested.text === text).toBe(true);
  }, 60_000);

  it('carries every size around the chunk boundaries, in order, in frames the inner hub accepts', async () => {
    // The inner hub refuses frames over 64 bytes, so any frame over chunkSize would surface as an error.
    const { a, b, atA, atB } = await marshallerPair({}, { maxPayloadSize: 64 });
    const sizes = Array.from({ length: 300 }, (_, i) => i);
    for (const size of sizes) a.send(b.eva, pattern(size, size));
    for (const size of sizes) a.send(b.eva, 'x'.repeat(size));
    await atB.messageCount(sizes.length * 2);
    sizes.forEach((size, i) => {
      expect(sameBytes(atB.messages[i], pattern(size, size))).toBe(true);
      expect(atB.messages[sizes.length + i]).toBe('x'.repeat(size));
    });
    expect(atA.errors).toEqual([]);
  }, 60_000);

  it('carries sizes around a 16 KiB chunk, and multiples of it', async () => {
    const { a, b, atB } = await marshallerPair({ chunkSize: 16_384 });
    const sizes = [16_381, 16_382, 16_383, 16_384, 16_385, 2 * 16_384 - 10, 2 * 16_384, 10 * 16_384 + 1];
    for (const size of sizes) a.send(b.eva, pattern(size, size));
    await atB.messageCount(sizes.length);
    sizes.forEach((size, i) => expect(sameBytes(atB.messages[i], pattern(size, size))).toBe(true));
  });
});

describe('errors at send', () => {
  it('throws TOO_LARGE above maxMessageSize and carries exactly maxMessageSize', async () => {
    const { a, b, atB } = await marshallerPair({ maxMessageSize: 1000 }, { maxPayloadSize: 256 });
    expectCode(() => a.send(b.eva, new Uint8Array(1001)), 'TOO_LARGE');
    expectCode(() => a.send(b.eva, 'x'.repeat(1001)), 'TOO_LARGE');
    expectCode(() => a.send(b.eva, 'é'.repeat(501)), 'TOO_LARGE');
    expectCode(() => a.send(b.eva, { data: new Uint8Array(990) }), 'TOO_LARGE');
    expectCode(() => a.send(b.eva, ['y'.repeat(999)]), 'TOO_LARGE');
    a.send(b.eva, pattern(1000));
    a.send(b.eva, 'z'.repeat(1000));
    await atB.messageCount(2);
    expect(sameBytes(atB.messages[0], pattern(1000))).toBe(true);
    expect(atB.messages[1]).toBe('z'.repeat(1000));
  });

  it.each<[string, unknown]>([
    ['a function', () => 1],
    ['a symbol', Symbol('s')],
    ['a BigInt', BigInt(10)],
    ['undefined', undefined],
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['-Infinity inside an object', { n: -Infinity }],
    ['a nested function', { f() {} }],
    ['a nested BigInt', [1, { big: BigInt(1) }]],
    ['a nested symbol', { s: Symbol('x') }],
    ['undefined in an array', [1, undefined]],
    ['a cycle', (() => { const o: Record<string, unknown> = {}; o.self = o; return o; })()],
    ['a cycle through an object holding a Buffer', (() => { const o: Record<string, unknown> = { b: Buffer.from('x') }; o.self = o; return o; })()],
    ['a Map', new Map([[1, 2]])],
    ['a Set', { s: new Set([1]) }],
    ['an Int16Array', new Int16Array(4)],
    ['a DataView', { v: new DataView(new ArrayBuffer(4)) }],
    ['a toJSON returning undefined', { toJSON: () => undefined }],
  ])('throws INVALID_PAYLOAD at send for %s, and sends nothing', async (_name, value) => {
    const { a, b, atB } = await marshallerPair();
    expectCode(() => a.send(b.eva, value), 'INVALID_PAYLOAD');
    a.send(b.eva, 'next');
    await atB.messageCount(1);
    expect(atB.messages).toEqual(['next']);
  });

  it('throws NOT_CONNECTED before looking at the payload', async () => {
    const { a } = await marshallerPair();
    expectCode(() => a.send('nobody', () => 1), 'NOT_CONNECTED');
  });
});

describe('ordering', () => {
  const big = pattern(5 * 1024 * 1024, 11);
  const label = (m: unknown): string =>
    m instanceof Uint8Array ? `big${m.byteLength}` : typeof m === 'object' && m !== null ? `small:${(m as { small: number }).small}` : String(m);

  it('by default, a small message sent after a 5 MB one overtakes it; single-frame messages keep their order', async () => {
    const { a, b, atB } = await marshallerPair();
    a.send(b.eva, big);
    a.send(b.eva, 'small-1');
    a.send(b.eva, { small: 2 });
    a.send(b.eva, 'small-3');
    await atB.messageCount(4);
    // Compared as labels: a diff of a 5 MB array would take jest minutes to print.
    expect(atB.messages.map(label)).toEqual(['small-1', 'small:2', 'small-3', `big${big.byteLength}`]);
    expect(sameBytes(atB.messages[3], big)).toBe(true);
  }, 60_000);

  it('by default, large messages progress round-robin: equal ones complete in send order, a shorter later one first', async () => {
    const { a, b, atB } = await marshallerPair();
    a.send(b.eva, pattern(3 * 1024 * 1024, 1));
    a.send(b.eva, pattern(3 * 1024 * 1024 + 1, 2));
    a.send(b.eva, pattern(1024 * 1024, 3));
    await atB.messageCount(3);
    expect(atB.messages.map(label)).toEqual([`big${1024 * 1024}`, `big${3 * 1024 * 1024}`, `big${3 * 1024 * 1024 + 1}`]);
  }, 60_000);

  it('with strictOrder, messages are delivered in exact send order', async () => {
    const { a, b, atB } = await marshallerPair({ strictOrder: true });
    a.send(b.eva, big);
    a.send(b.eva, 'small-1');
    a.send(b.eva, pattern(1024 * 1024, 3));
    a.send(b.eva, 'small-2');
    await atB.messageCount(4);
    expect(atB.messages.map(label)).toEqual([`big${big.byteLength}`, 'small-1', `big${1024 * 1024}`, 'small-2']);
    expect(sameBytes(atB.messages[0], big)).toBe(true);
  }, 60_000);
});

describe('pacing', () => {
  it('sends a large message over several turns of the event loop, counting it in bufferedAmount, then emits drain', async () => {
    const { a, b, atB } = await marshallerPair();
    const size = 5 * 1024 * 1024;
    let drained = false;
    a.on('drain', (peer) => {
      if (peer === b.eva) drained = true;
    });
    a.send(b.eva, pattern(size));
    // Everything not yet delivered counts (the message and its framing); most of it is still in this layer's
    // queue, handed to the inner endpoint on later turns as that one drains.
    const queuedAfterSend = a.bufferedAmount(b.eva);
    const inner = (a as unknown as { inner: Endpoint }).inner;
    expect(queuedAfterSend).toBeGreaterThanOrEqual(size);
    expect(queuedAfterSend).toBeLessThan(size * 1.01);
    expect(inner.bufferedAmount(b.eva)).toBeLessThan(size / 2);
    await atB.until('drain and delivery', () => drained && atB.messages.length === 1);
    expect(a.bufferedAmount(b.eva)).toBe(0);
    expect(sameBytes(atB.messages[0], pattern(size))).toBe(true);
  }, 60_000);
});
