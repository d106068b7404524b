import fc from 'fast-check';
import { CloseCode, WebSocketFactory, WebSocketHub } from '@vnf/websocket-hub';
import { FrameWriter, RecordKind, PROTOCOL_VERSION } from '@vnf/protocol';
import { startBroker, type Running } from './fixture';
import { RawClient, rawPair } from './rawClient';

let running: Running;
afterEach(() => running.close());

async function pair(a: string, b: string): Promise<[RawClient, RawClient]> {
  const clients = await rawPair(running.url, a, b);
  clients.forEach((c) => running.track(c));
  return clients;
}

/** Proves the broker still serves: a fresh hub connects two endpoints and exchanges a message. */
async function stillWorks(): Promise<void> {
  const hub = new WebSocketHub(new WebSocketFactory(running.url));
  try {
    const x = hub.openEndpoint(`x-${Math.random()}`);
    const y = hub.openEndpoint(`y-${Math.random()}`);
    const got = new Promise((resolve) => (y.onMessage = (e) => resolve([e.sourceEva, e.message])));
    expect((await x.openConnection(y.eva)).status).toBe('CONNECTED');
    x.send(y.eva, 'still here');
    expect(await got).toEqual([x.eva, 'still here']);
  } finally {
    await hub.close();
  }
}

describe('broker bad input', () => {
  it('malformed JSON, unknown types and wrong field types get a PROTOCOL error frame; the socket and others go on', async () => {
    running = await startBroker();
    const [a, b] = await pair('a', 'b');
    const bad = [
      () => a.ws.send('not json'),
      () => a.ws.send('{"t":"teleport"}'),
      () => a.ws.send('{"t":"open","to":42}'),
      () => a.sendControl({ t: 'call', id: 'x', method: 'registry.get' }),
      () => a.ws.send(new Uint8Array([7, 7, 7])),
    ];
    for (const send of bad) send();
    await a.until(() => (a.controls.filter((m) => m.t === 'error' && m.code === 'PROTOCOL').length === bad.length) || undefined, 'five PROTOCOL errors');
    a.sendText('b', 'fine');
    await b.until(() => b.data[0], 'the message');
    expect(b.data).toEqual([{ source: 'a', payload: 'fine' }]);
    expect(a.closeCode).toBeNull();
  });

  it('anything but a hello first closes with 4000', async () => {
    running = await startBroker();
    const text = running.track(await RawClient.connect(running.url));
    text.ws.send('{"t":"open","to":"b"}');
    expect(await text.closedWithin()).toBe(CloseCode.PROTOCOL);
    const binary = running.track(await RawClient.connect(running.url));
    binary.ws.send(new Uint8Array([1, 2, 3]));
    expect(await binary.closedWithin()).toBe(CloseCode.PROTOCOL);
  });

  it('a frame over maxPayload closes that socket with 1009; the hub refuses such payloads at send', async () => {
    running = await startBroker({ maxPayload: 8192, sendBufferLimit: 65536 });
    const [a] = await pair('a', 'b');
    a.sendText('b', 'x'.repeat(9000));
    expect(await a.closedWithin()).toBe(1009);
    const hub = new WebSocketHub(new WebSocketFactory(running.url));
    try {
      const x = hub.openEndpoint('x');
      hub.openEndpoint('y');
      await x.openConnection('y');
      expect(() => x.send('y', 'x'.repeat(8192))).toThrow(expect.objectContaining({ code: 'TOO_LARGE' }));
      x.send('y', 'x'.repeat(8192 - 1024));
    } finally {
      await hub.close();
    }
    await stillWorks();
  });

  it('a flood gets RATE_LIMITED, then close 4006; others are undisturbed', async () => {
    running = await startBroker({ maxMessagesPerSecond: 100 });
    const [flooder] = await pair('flooder', 'victim');
    const writer = new FrameWriter();
    for (let i = 0; i < 500; i++) writer.writeRecord(RecordKind.TEXT, 'victim', `m${i}`);
    flooder.ws.send(writer.finish());
    expect(await flooder.closedWithin()).toBe(CloseCode.RATE_LIMITED);
    expect(flooder.controls).toContainEqual(expect.objectContaining({ t: 'error', code: 'RATE_LIMITED' }));
    await stillWorks();
  });

  it('a client that stops reading is closed as a slow consumer (4005) while others keep working', async () => {
    running = await startBroker({ maxPayload: 65536, sendBufferLimit: 256 * 1024, slowConsumerTimeoutMs: 500 });
    const [producer, consumer] = await pair('producer', 'consumer');
    consumer.ws.pause();
    const chunk = 'z'.repeat(60_000);
    const deadline = Date.now() + 20_000;
    // Keep writing until the broker gives up on the consumer; loopback buffers absorb a few MB first.
    while (!producer.controls.some((m) => m.t === 'lost' && m.from === 'consumer')) {
      if (Date.now() > deadline) throw new Error('the broker never closed the slow consumer');
      if (producer.ws.bufferedAmount < 1_000_000) for (let i = 0; i < 16; i++) producer.sendText('consumer', chunk);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(producer.closeCode).toBeNull();
    await stillWorks();
    consumer.ws.resume();
    expect(await consumer.closedWithin()).toBe(CloseCode.SLOW_CONSUMER);
  });

  it('a briefly slow client holds its sender back through TCP instead of being closed; nothing is lost', async () => {
    running = await startBroker({ maxPayload: 65536, sendBufferLimit: 512 * 1024, relayHighWaterMark: 128 * 1024 });
    const [producer, consumer] = await pair('producer', 'consumer');
    consumer.ws.pause();
    const chunk = 'q'.repeat(32_000);
    const limit = 2000; // 64 MB: loopback's kernel buffers hold a few MB before TCP pushes back
    let sent = 0;
    const deadline = Date.now() + 30_000;
    // Write until the producer's own socket buffer grows: the broker stopped reading it, so TCP pushed back.
    // Without that, the broker would have queued past the consumer's 512 KiB limit and closed it (4005).
    while (producer.ws.bufferedAmount < 1_000_000) {
      if (Date.now() > deadline || sent >= limit) throw new Error(`no backpressure after ${sent} messages`);
      producer.sendText('consumer', chunk);
      sent++;
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(consumer.closeCode).toBeNull();
    await stillWorks();
    consumer.ws.resume();
    await consumer.until(() => consumer.data.length >= sent || undefined, `${sent} messages at the consumer`, 30_000);
    expect(consumer.data).toHaveLength(sent);
    expect(consumer.data.every((m) => m.source === 'producer' && m.payload === chunk)).toBe(true);
    expect(consumer.closeCode).toBeNull();
    expect(producer.closeCode).toBeNull();
  }, 60_000);

  it('fuzz: 10 000 random frames (strings, binary, near-valid records) never break the broker', async () => {
    running = await startBroker({ maxMessagesPerSecond: 1_000_000 });
    const [fuzzer, peer] = await pair('fuzzer', 'peer');
    const evaArb = fc.oneof(fc.constant('peer'), fc.constant(''), fc.string({ maxLength: 8 }));
    const recordArb = fc
      .record({ kind: fc.integer({ min: 0, max: 4 }), eva: evaArb, payload: fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('{"t":"open","to":"peer"}', '{"t":"call","id":1,"method":"registry.list","params":{"collection":1}}', '{"t":"close","to":"peer"}', '{"t":"hello"}')) })
      .map(({ kind, eva, payload }) => {
        const writer = new FrameWriter();
        writer.writeRecord(Math.min(kind, 2) as RecordKind, eva, payload);
        const frame = writer.finish().slice();
        frame[0] = kind;
        return frame;
      });
    const frameArb = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.json({ maxDepth: 2 }),
      fc.uint8Array({ maxLength: 200 }),
      recordArb,
      fc.tuple(recordArb, fc.uint8Array({ maxLength: 8 })).map(([r, tail]) => new Uint8Array([...r, ...tail])),
    );
    let sent = 0;
    fc.assert(
      fc.property(frameArb, (frame) => {
        fuzzer.ws.send(frame);
        sent++;
      }),
      { numRuns: 10_000, seed: 4242 },
    );
    expect(sent).toBe(10_000);
    // A call after the fuzz is answered in order, so every fuzz frame was processed by then.
    fuzzer.sendControl({ t: 'call', id: 987654, method: 'registry.list', params: { collection: 'done' } });
    const answered = await fuzzer.control((m) => (m.t === 'result' || m.t === 'failure') && m.id === 987654, 60_000).then(
      () => true,
      () => false,
    );
    expect(answered || fuzzer.closeCode !== null).toBe(true);
    // Whatever the fuzz did to its own socket, it ended in an error frame or a documented close code.
    if (fuzzer.closeCode !== null) expect([CloseCode.PROTOCOL, CloseCode.RATE_LIMITED, 1007, 1009]).toContain(fuzzer.closeCode);
    expect(peer.closeCode).toBeNull();
    // Pre-hello sockets get garbage too.
    const strangers = await Promise.all(Array.from({ length: 20 }, () => RawClient.connect(running.url)));
    strangers.forEach((s, i) => {
      running.track(s);
      s.ws.send(i % 2 ? new Uint8Array([i, 0, 1]) : `garbage ${i}`);
    });
    for (const s of strangers) expect(await s.closedWithin()).toBe(CloseCode.PROTOCOL);
    await stillWorks();
    const [again] = await RawClient.register(running.url, 'after-fuzz');
    running.track(again);
    again.ws.send(JSON.stringify({ t: 'hello', v: PROTOCOL_VERSION, role: 'endpoint', eva: 'x' }));
    await again.control((m) => m.t === 'error');
  });
});
