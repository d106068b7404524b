import { trackResources, until, waitFor } from '@vnf/conformance';
import { VnfError, type Hub, type MultiplexingEndpoint } from '@vnf/core';
import { InBrowserHub } from '@vnf/in-browser-hub';
import { MultiplexHub } from '@vnf/multiplex-hub';
import { PeerStreams, collectBytes, type IncomingTransfer, type PeerStreamsOptions } from '@vnf/streams';
import { UnreliableHub } from '@vnf/unreliable-hub';
import { createHash } from 'node:crypto';
import { decodeControl, encodeControl, type ControlFrame } from '../src/frames';
import { MAX_EARLY_FRAMES } from '../src/IncomingTransfer';

const WAIT_MS = 5000;
const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function bytes(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed * 7 + (i >>> 9)) & 255;
  return out;
}

function network(options: PeerStreamsOptions = {}) {
  const unreliable = new UnreliableHub(new InBrowserHub());
  const hub: Hub<MultiplexingEndpoint> = new MultiplexHub(unreliable);
  cleanups.push(() => hub.close());
  const open = (eva: string, own: PeerStreamsOptions = options) => {
    const endpoint = hub.openEndpoint(eva);
    const streams = new PeerStreams(endpoint, own);
    cleanups.push(() => streams.close());
    return { endpoint, streams };
  };
  return { hub, unreliable, open };
}

function nextTransfer(streams: PeerStreams): Promise<IncomingTransfer> {
  return waitFor('a transfer', WAIT_MS, (done) => streams.on('transfer', done));
}

async function rejection(promise: Promise<unknown>): Promise<VnfError> {
  const outcome = await promise.then(
    () => new Error('resolved, expected a rejection'),
    (err: unknown) => err,
  );
  if (!(outcome instanceof VnfError)) throw outcome;
  return outcome;
}

describe('PeerStreams', () => {
  it('streams bytes with their metadata, and both sides agree with an independent SHA-256', async () => {
    const tracker = trackResources();
    const { open } = network();
    const a = open('a').streams;
    const b = open('b').streams;
    const data = bytes(3 * 1024 * 1024 + 17);
    const arriving = nextTransfer(b);
    const sent = a.send('b', new Blob([data as BlobPart], { type: 'application/octet-stream' }), { name: 'x.bin', header: { n: 1 } });
    const incoming = await arriving;
    expect(incoming.meta).toMatchObject({ from: 'a', name: 'x.bin', type: 'application/octet-stream', size: data.length, header: { n: 1 } });
    const got = await incoming.toUint8Array();
    const expected = createHash('sha256').update(data).digest('hex');
    expect(await sent.done).toEqual({ bytes: data.length, sha256: expected });
    expect(await incoming.done).toEqual({ bytes: data.length, sha256: expected });
    expect(Buffer.from(got).equals(Buffer.from(data))).toBe(true);
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await tracker.released(WAIT_MS);
    tracker.stop();
  });

  it('refuses what it cannot send at the call, and invalid options at construction', () => {
    const { open, hub } = network();
    const { streams } = open('a');
    expect(() => streams.send('b', 'text' as never)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => streams.send('a', new Uint8Array(1))).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => streams.send('b', new Uint8Array(4), { size: 5 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => streams.send('b', new Uint8Array(4), { header: 'x'.repeat(20_000) })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => streams.send('b', new Uint8Array(4), { colour: 'red' } as never)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    const endpoint = hub.openEndpoint('c');
    expect(() => new PeerStreams(endpoint, { windowBytes: 1000 })).toThrow(/windowBytes 1000 must be at least twice chunkSize/);
    expect(() => new PeerStreams(endpoint, { chunkSize: 2 * 1024 * 1024 })).toThrow(/does not fit this stack's frames/);
    expect(() => new PeerStreams(endpoint, { resumeWindow: 1 } as never)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => new PeerStreams({} as never)).toThrow(/needs a MultiplexingEndpoint/);
    // A refused construction leaves the sub-protocol free.
    expect(() => new PeerStreams(endpoint)).not.toThrow();
  });

  it('a peer without a transfer listener refuses with UNAVAILABLE; an unreachable one ends in NOT_FOUND', async () => {
    const { open } = network();
    const a = open('a').streams;
    open('b');
    expect((await rejection(a.send('b', bytes(10)).done)).code).toBe('UNAVAILABLE');
    expect((await rejection(a.send('nobody', bytes(10)).done)).code).toBe('NOT_FOUND');
  });

  it('a source that fails or yields text ends the transfer on both sides', async () => {
    const { open } = network();
    const a = open('a').streams;
    const b = open('b').streams;
    async function* failing() {
      yield bytes(1000);
      throw new Error('disk gone');
    }
    let arriving = nextTransfer(b);
    let sent = a.send('b', failing());
    let incoming = await arriving;
    expect((await rejection(sent.done)).message).toMatch(/disk gone/);
    expect((await rejection(incoming.done)).code).toBe('CANCELLED');
    async function* text() {
      yield 'not bytes' as unknown as Uint8Array;
    }
    arriving = nextTransfer(b);
    sent = a.send('b', text());
    incoming = await arriving;
    expect((await rejection(sent.done)).code).toBe('INVALID_PAYLOAD');
    expect((await rejection(incoming.done)).code).toBe('INVALID_PAYLOAD');
  });

  it('a stream longer or shorter than its declared size fails with INTEGRITY', async () => {
    const { open } = network();
    const a = open('a').streams;
    const b = open('b').streams;
    for (const actual of [900, 1100]) {
      const arriving = nextTransfer(b);
      const sent = a.send('b', (async function* () {
        yield bytes(actual);
      })(), { size: 1000 });
      const incoming = await arriving;
      expect(incoming.meta.size).toBe(1000);
      expect((await rejection(sent.done)).code).toBe('INTEGRITY');
      await expect(collectBytes(incoming.readable)).rejects.toMatchObject({ code: expect.stringMatching(/INTEGRITY|CANCELLED/) });
    }
  });

  it('not resumed within resumeTimeoutMs: both sides fail with UNAVAILABLE', async () => {
    const { open, unreliable } = network({ resumeTimeoutMs: 300 });
    const a = open('a').streams;
    const b = open('b').streams;
    const arriving = nextTransfer(b);
    const sent = a.send('b', bytes(8 * 1024 * 1024));
    const incoming = await arriving;
    const suspended = waitFor<void>('suspended', WAIT_MS, (done) => incoming.on('suspended', done));
    await until('some bytes', WAIT_MS, () => incoming.transferred > 0);
    // The connection is cut and no new one can be made.
    unreliable.chaos.partition(['a'], ['b'], { cut: true });
    await suspended;
    expect((await rejection(sent.done)).code).toBe('UNAVAILABLE');
    expect((await rejection(incoming.done)).code).toBe('UNAVAILABLE');
  });

  it('with resumeTimeoutMs 0 a broken connection fails the transfer at once', async () => {
    const { open, unreliable } = network({ resumeTimeoutMs: 0 });
    const a = open('a').streams;
    const b = open('b').streams;
    const arriving = nextTransfer(b);
    const sent = a.send('b', bytes(8 * 1024 * 1024));
    const incoming = await arriving;
    await until('some bytes', WAIT_MS, () => incoming.transferred > 0);
    unreliable.chaos.cut('a', 'b');
    expect((await rejection(sent.done)).code).toBe('UNAVAILABLE');
    expect((await rejection(incoming.done)).code).toBe('UNAVAILABLE');
  });

  it('a burst of frames lost beneath without a lost connection (a channel broken under a relay fallback) is sent again', async () => {
    const { open, unreliable } = network({ progressIntervalMs: 0 });
    const a = open('a').streams;
    const b = open('b').streams;
    const data = bytes(4 * 1024 * 1024, 3);
    // From a quarter on, everything from a to b vanishes until ten frames were lost.
    const arriving = nextTransfer(b).then((incoming) => {
      incoming.on('progress', ({ bytes }) => {
        if (bytes > data.length / 4 && unreliable.chaos.stats().dropped === 0) unreliable.chaos.setFor('a', 'b', { drop: 1 });
      });
      return incoming;
    });
    const sent = a.send('b', (async function* () {
      for (let at = 0; at < data.length; at += 100_000) yield data.subarray(at, at + 100_000);
    })());
    const incoming = await arriving;
    await until('ten frames lost', WAIT_MS, () => unreliable.chaos.stats().dropped >= 10);
    unreliable.chaos.reset();
    const got = await incoming.toUint8Array();
    expect(Buffer.from(got).equals(Buffer.from(data))).toBe(true);
    expect((await sent.done).sha256).toBe(createHash('sha256').update(data).digest('hex'));
  });

  it('frames reordered beneath (as MarshallerHub lets small messages pass large ones) are put back in order', async () => {
    const unreliable = new UnreliableHub(new InBrowserHub(), { seed: 4242, reorder: 0.2 });
    const hub: Hub<MultiplexingEndpoint> = new MultiplexHub(unreliable);
    cleanups.push(() => hub.close());
    const a = new PeerStreams(hub.openEndpoint('a'));
    const b = new PeerStreams(hub.openEndpoint('b'));
    cleanups.push(() => a.close(), () => b.close());
    const data = bytes(4 * 1024 * 1024, 5);
    const arriving = nextTransfer(b);
    // Chunks of two sizes, so that frames differ in size as they do when a source's chunks do not fit the frames.
    const sent = a.send('b', (async function* () {
      for (let at = 0; at < data.length; ) {
        const n = at % 3 === 0 ? 70_000 : 3_000;
        yield data.subarray(at, at + n);
        at += n;
      }
    })());
    const incoming = await arriving;
    const got = await incoming.toUint8Array();
    expect(unreliable.chaos.stats().reordered).toBeGreaterThan(0);
    expect(Buffer.from(got).equals(Buffer.from(data))).toBe(true);
    expect((await sent.done).sha256).toBe(createHash('sha256').update(data).digest('hex'));
  });

  it('a resume answered by someone without the secret stops the sender with FORBIDDEN', async () => {
    const { open, hub, unreliable } = network();
    const a = open('a').streams;
    const b = open('b');
    const arriving = nextTransfer(b.streams);
    const sent = a.send('b', bytes(8 * 1024 * 1024));
    const incoming = await arriving;
    await until('some bytes', WAIT_MS, () => incoming.transferred > 0);
    // b's process goes; an impostor takes its eva and answers the resume with a made-up proof.
    unreliable.chaos.partition(['a'], ['b'], { cut: true });
    await waitFor<void>('suspended', WAIT_MS, (done) => sent.on('suspended', done));
    await b.streams.close();
    b.endpoint.destroy();
    unreliable.chaos.heal();
    const impostor = hub.openEndpoint('b');
    const channel = impostor.subProtocol('vnf.streams');
    channel.onMessage = ({ sourceEva, message }) => {
      const frame = decodeControl(message as string);
      if (frame?.t === 'resume') {
        channel.send(sourceEva, encodeControl({ t: 'resumeAt', id: frame.id, got: 0, nonce: '0'.repeat(64), mac: '1'.repeat(64) }));
      }
    };
    expect((await rejection(sent.done)).code).toBe('FORBIDDEN');
  });

  it('the last frames and the end lost beneath: the receiver\'s probe brings them again', async () => {
    const { open, unreliable } = network();
    const a = open('a').streams;
    const b = open('b').streams;
    const data = bytes(1024 * 1024, 4);
    const arriving = nextTransfer(b);
    const incomingOf = arriving.then((incoming) => {
      // Everything from a to b vanishes from the moment the transfer is announced: nothing reveals a gap but silence.
      unreliable.chaos.blackhole('a', 'b', true, { oneWay: true });
      return incoming;
    });
    const sent = a.send('b', data);
    const incoming = await incomingOf;
    await until('the sender to have sent everything', WAIT_MS, () => unreliable.chaos.stats().blackholed > 10);
    unreliable.chaos.blackhole('a', 'b', false);
    const got = await incoming.toUint8Array();
    expect(Buffer.from(got).equals(Buffer.from(data))).toBe(true);
    await sent.done;
  });

  it('a resume (and a go without the proof) while the transfer is open holds the data until the real sender resumes', async () => {
    const { open } = network();
    const a = open('a').streams;
    const b = open('b').streams;
    const data = bytes(8 * 1024 * 1024, 6);
    const arriving = nextTransfer(b);
    const sent = a.send('b', data);
    const incoming = await arriving;
    const resumed = waitFor<void>('resumed', WAIT_MS, (done) => incoming.on('resumed', () => done()));
    let senderResumed = 0;
    sent.on('resumed', () => senderResumed++);
    await until('some bytes', WAIT_MS, () => incoming.transferred > 0);
    // As if they came from whoever holds the sender's eva: a resume, then a `go` with a made-up proof.
    const inject = (frame: ControlFrame) => (incoming as unknown as { onControl(f: ControlFrame): void }).onControl(frame);
    inject({ t: 'resume', id: incoming.meta.id, nonce: 'a'.repeat(64) });
    inject({ t: 'go', id: incoming.meta.id, mac: 'b'.repeat(64) });
    const held = incoming.transferred;
    // The real sender hears nothing, asks (ping), is told `lost`, and resumes with the proof.
    await resumed;
    expect(incoming.transferred).toBe(held);
    // Taken up again by the real sender's proven resume, not by the made-up `go`.
    await until('the sender to resume', WAIT_MS, () => senderResumed === 1);
    expect(Buffer.from(await incoming.toUint8Array()).equals(Buffer.from(data))).toBe(true);
    expect((await sent.done).bytes).toBe(data.length);
  });

  it("the receiver's fin lost beneath: the sender asks (ping) and is told it finished", async () => {
    const { open, unreliable } = network({ progressIntervalMs: 0 });
    const a = open('a').streams;
    const b = open('b').streams;
    const data = bytes(2 * 1024 * 1024, 7);
    const arriving = nextTransfer(b).then((incoming) => {
      // Everything from b to a vanishes (its credits, its fin) from half on, until b has it all.
      incoming.on('progress', ({ bytes }) => {
        if (bytes > data.length / 2) unreliable.chaos.blackhole('b', 'a', true, { oneWay: true });
      });
      incoming.done.then(() => unreliable.chaos.blackhole('b', 'a', false));
      return incoming;
    });
    const sent = a.send('b', data);
    const incoming = await arriving;
    await incoming.toUint8Array();
    await incoming.done;
    expect((await sent.done).bytes).toBe(data.length);
    expect(unreliable.chaos.stats().blackholed).toBeGreaterThan(0);
  });

  it('frames ahead of a gap are held within one window, overlapping ones dropped', async () => {
    const { open } = network({ windowBytes: 4 * 1024 * 1024 });
    const a = open('a').streams;
    const b = open('b').streams;
    const arriving = nextTransfer(b);
    const sent = a.send('b', (async function* () {
      yield bytes(10);
      await new Promise(() => undefined); // then nothing: the test feeds the receiver itself
    })());
    const incoming = await arriving;
    await until('the first bytes', WAIT_MS, () => incoming.transferred === 10);
    const target = incoming as unknown as { onData(offset: number, bytes: Uint8Array): void; early: Map<number, Uint8Array> };
    // A peer sending thousands of overlapping frames ahead of a gap, or a flood of tiny ones.
    for (let i = 1; i < 4000; i++) target.onData(10 + i, new Uint8Array(60_000));
    for (let i = 0; i < 3000; i++) target.onData(100_000 + i * 2, new Uint8Array(1));
    let held = 0;
    for (const frame of target.early.values()) held += frame.byteLength;
    expect(target.early.size).toBeLessThanOrEqual(MAX_EARLY_FRAMES);
    expect(held).toBeLessThanOrEqual(4 * 1024 * 1024);
    sent.cancel();
  });

  it('a receiver that cancels while the connection is broken: the sender is told CANCELLED when it resumes', async () => {
    const { open, unreliable } = network();
    const a = open('a').streams;
    const b = open('b').streams;
    const arriving = nextTransfer(b);
    const sent = a.send('b', bytes(8 * 1024 * 1024));
    const incoming = await arriving;
    await until('some bytes', WAIT_MS, () => incoming.transferred > 0);
    unreliable.chaos.partition(['a'], ['b'], { cut: true });
    await waitFor<void>('suspended', WAIT_MS, (done) => incoming.on('suspended', done));
    incoming.cancel('changed my mind');
    unreliable.chaos.heal();
    const error = await rejection(sent.done);
    expect(error.code).toBe('CANCELLED');
    expect(error.message).toMatch(/changed my mind/);
  });

  it('refuses more than maxIncomingPerPeer transfers from one peer with BUFFER_FULL', async () => {
    const { open } = network();
    const a = open('a').streams;
    const b = open('b', { maxIncomingPerPeer: 1 }).streams;
    b.on('transfer', () => undefined); // never read: the first one stays in progress
    const first = a.send('b', bytes(16 * 1024 * 1024));
    const second = a.send('b', bytes(10));
    expect((await rejection(second.done)).code).toBe('BUFFER_FULL');
    first.cancel();
  });

  it('closing PeerStreams ends its transfers: DESTROYED here, CANCELLED at the peer', async () => {
    const { open } = network();
    const a = open('a').streams;
    const b = open('b').streams;
    const arriving = nextTransfer(b);
    const sent = a.send('b', bytes(16 * 1024 * 1024));
    const incoming = await arriving;
    await until('some bytes', WAIT_MS, () => incoming.transferred > 0);
    await b.close();
    expect((await rejection(incoming.done)).code).toBe('DESTROYED');
    expect((await rejection(sent.done)).code).toBe('CANCELLED');
    expect(() => b.send('a', bytes(1))).toThrow(expect.objectContaining({ code: 'DESTROYED' }));
  });

  it('a listener that throws becomes an error event and the transfer goes on', async () => {
    const { open } = network();
    const a = open('a').streams;
    const b = open('b').streams;
    const errors: VnfError[] = [];
    const arriving = nextTransfer(b);
    const sent = a.send('b', bytes(1024 * 1024));
    sent.on('error', (e) => errors.push(e));
    sent.on('progress', () => {
      throw new Error('boom');
    });
    const incoming = await arriving;
    await incoming.toUint8Array();
    await sent.done;
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]!.code).toBe('LISTENER_ERROR');
  });
});
