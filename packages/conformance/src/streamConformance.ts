import { afterEach, describe, expect, it } from '@jest/globals';
import { VnfError } from '@vnf/core';
import type { Hub, MultiplexingEndpoint } from '@vnf/core';
import { TapHub } from './TapHub';
import { seededRandom } from './random';
import { uniqueEva, until, waitFor } from './waiting';

/** Progress as both sides of a transfer report it. */
export interface StreamProgressUnderTest {
  bytes: number;
  total: number | null;
}

interface TransferUnderTest {
  readonly done: Promise<{ bytes: number; sha256: string }>;
  readonly transferred: number;
  cancel(reason?: string): void;
  on(event: 'progress' | 'resumed', listener: (progress: StreamProgressUnderTest) => void): unknown;
}

/** A transfer a peer receives (the IncomingTransfer of @vnf/streams). */
export interface IncomingTransferUnderTest extends TransferUnderTest {
  readonly meta: { id: string; from: string; name: string; type: string; size: number | null; header: unknown };
  readonly readable: ReadableStream<Uint8Array>;
}

/** The streams of one endpoint, as the suite drives them: a PeerStreams of @vnf/streams, or anything that keeps its promises. */
export interface StreamsUnderTest {
  send(
    target: string,
    source: Blob | Uint8Array | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
    options?: { name?: string; type?: string; size?: number; header?: unknown; signal?: AbortSignal },
  ): TransferUnderTest;
  on(event: 'transfer', listener: (transfer: IncomingTransferUnderTest) => void): unknown;
  close(): Promise<void>;
}

/** The peers of one test. */
export interface StreamNetwork {
  /** Opens a peer's endpoint (on a MultiplexHub). */
  open(eva: string): MultiplexingEndpoint | Promise<MultiplexingEndpoint>;
  /**
   * Breaks the connection between two peers as a dropped transport would (a data channel closed, a broker gone):
   * both get `connectionLost`, and a new connection between them can be opened.
   */
  cut(a: string, b: string): void | Promise<void>;
  /** Closes everything the network opened; runs after the suite closed the streams of each peer. */
  close(): Promise<void>;
}

export interface StreamConformanceSetup {
  /**
   * A fresh network for one test, with `beneath(inner)` directly beneath each MultiplexHub (`new MultiplexHub(
   * beneath(inner))`), where the suite may change a data frame in flight.
   */
  createNetwork(beneath: (inner: Hub) => Hub): StreamNetwork | Promise<StreamNetwork>;
  /** The streams of a peer: `new PeerStreams(endpoint, options)`. The suite closes them. */
  createStreams(endpoint: MultiplexingEndpoint, options: { windowBytes: number; resumeTimeoutMs: number; progressIntervalMs: number }): StreamsUnderTest;
  /** Bytes of the large transfers (the resume, the window). Default 4 MiB. */
  sizeBytes?: number;
  /** How long to wait for an expected event, ms. Default 10000. */
  timeoutMs?: number;
}

const WINDOW = 256 * 1024;
const SOURCE_CHUNK = 16 * 1024;

/**
 * The rules of streams between peers (docs/streams.md): every byte in order with its metadata first and a SHA-256
 * both sides agree on; progress that never decreases and ends at the size; a slow reader holding the sender back to
 * one window; cancel from either side; resume after a broken connection from what the receiver has; a changed byte
 * never delivered as good.
 */
export function streamConformance(name: string, setup: StreamConformanceSetup): void {
  const timeoutMs = setup.timeoutMs ?? 10_000;
  const size = setup.sizeBytes ?? 4 * 1024 * 1024;

  describe(`${name} — stream conformance`, () => {
    const cleanups: Array<() => Promise<unknown>> = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    async function peers(options: { resumeTimeoutMs?: number } = {}) {
      const taps: TapHub[] = [];
      const network = await setup.createNetwork((inner) => {
        const tap = new TapHub(inner);
        taps.push(tap);
        return tap;
      });
      cleanups.push(() => network.close());
      const streamOptions = { windowBytes: WINDOW, resumeTimeoutMs: options.resumeTimeoutMs ?? timeoutMs, progressIntervalMs: 0 };
      const aEva = uniqueEva('sender');
      const bEva = uniqueEva('receiver');
      const aEndpoint = await network.open(aEva);
      const bEndpoint = await network.open(bEva);
      const a = setup.createStreams(aEndpoint, streamOptions);
      const b = setup.createStreams(bEndpoint, streamOptions);
      cleanups.push(() => Promise.all([a.close(), b.close()]));
      const incoming = (): Promise<IncomingTransferUnderTest> => waitFor('the transfer event', timeoutMs, (done) => b.on('transfer', done));
      return { network, taps, a, b, aEva, bEva, aEndpoint, bEndpoint, incoming };
    }

    it('delivers every byte in order, metadata first, with the SHA-256 both sides computed (bytes, Blob, ReadableStream, iterable of unknown length)', async () => {
      const { a, bEva, incoming } = await peers();
      const data = pattern(300_000, 1);
      const sources: Array<[string, () => Blob | Uint8Array | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>, number | null]> = [
        ['bytes', () => data, data.byteLength],
        ['blob', () => new Blob([data as BlobPart], { type: 'application/x-test' }), data.byteLength],
        ['readable', () => readableOf(data, 7_000), null],
        ['iterable', () => iterableOf(data, 50_000), null],
        ['empty', () => iterableOf(new Uint8Array(0), 1), null],
      ];
      for (const [label, source, known] of sources) {
        const arriving = incoming();
        const sent = a.send(bEva, source(), { name: `${label}.bin`, header: { label } });
        const transfer = await arriving;
        expect(transfer.meta).toMatchObject({ name: `${label}.bin`, size: known, header: { label } });
        const expected = label === 'empty' ? new Uint8Array(0) : data;
        const bytes = await readAll(transfer.readable);
        expect(bytes.byteLength).toBe(expected.byteLength);
        expect(equalBytes(bytes, expected)).toBe(true);
        const [sentResult, gotResult] = await Promise.all([sent.done, transfer.done]);
        expect(gotResult).toEqual(sentResult);
        expect(sentResult.bytes).toBe(expected.byteLength);
        expect(sentResult.sha256).toMatch(/^[0-9a-f]{64}$/);
      }
    });

    it('progress never decreases and ends at the full size, on both sides', async () => {
      const { a, bEva, incoming } = await peers();
      const data = pattern(size, 2);
      const arriving = incoming();
      const sent = a.send(bEva, data);
      const senderProgress: StreamProgressUnderTest[] = [];
      sent.on('progress', (p) => senderProgress.push(p));
      const transfer = await arriving;
      const receiverProgress: StreamProgressUnderTest[] = [];
      transfer.on('progress', (p) => receiverProgress.push(p));
      await readAll(transfer.readable);
      await Promise.all([sent.done, transfer.done]);
      for (const [side, progress] of [['sender', senderProgress], ['receiver', receiverProgress]] as const) {
        expect(progress.length).toBeGreaterThan(1);
        for (let i = 1; i < progress.length; i++) expect(progress[i]!.bytes).toBeGreaterThanOrEqual(progress[i - 1]!.bytes);
        expect({ side, last: progress.at(-1) }).toEqual({ side, last: { bytes: size, total: size } });
        expect(progress.filter((p) => p.bytes === size)).toHaveLength(1);
      }
    });

    it('a reader that stops holds the sender back: it reads its source no further than one window past what was read', async () => {
      const { a, bEva, aEndpoint, bEndpoint, incoming } = await peers();
      let pulled = 0;
      const total = 16 * WINDOW;
      async function* source(): AsyncIterable<Uint8Array> {
        for (let at = 0; at < total; at += SOURCE_CHUNK) {
          pulled += SOURCE_CHUNK;
          yield pattern(SOURCE_CHUNK, at);
        }
      }
      const arriving = incoming();
      const sent = a.send(bEva, source());
      const transfer = await arriving;
      // Nothing is read: the first window fills, then three round trips on the app's channel (in order with the
      // stream's frames) let any further credit and the data it allowed arrive.
      await until('the first window to arrive', timeoutMs, () => transfer.transferred >= WINDOW - 64 * 1024, () => `${transfer.transferred} bytes arrived`);
      for (let i = 0; i < 3; i++) await roundTrip(aEndpoint, bEndpoint, timeoutMs);
      expect(transfer.transferred).toBeLessThanOrEqual(WINDOW);
      expect(pulled).toBeLessThanOrEqual(WINDOW + 64 * 1024 + SOURCE_CHUNK);
      await readAll(transfer.readable);
      await sent.done;
      expect(pulled).toBe(total);
    });

    it('cancel by the sender: the stream errors CANCELLED on both sides, at most one window delivered after it', async () => {
      const { a, bEva, incoming } = await peers();
      const sent = a.send(bEva, iterableOf(pattern(size, 3), SOURCE_CHUNK));
      const transfer = await incoming();
      const reader = transfer.readable.getReader();
      let read = 0;
      let atCancel = -1;
      const failure = (async () => {
        try {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) return new Error('the stream ended without an error');
            read += value.byteLength;
            if (read >= size / 4 && atCancel < 0) {
              atCancel = read;
              sent.cancel('enough');
            }
          }
        } catch (err) {
          return err;
        }
      })();
      const error = await failure;
      expect(VnfError.is(error, 'CANCELLED')).toBe(true);
      expect(read - atCancel).toBeLessThanOrEqual(WINDOW);
      expect(VnfError.is(await rejection(sent.done), 'CANCELLED')).toBe(true);
      expect(VnfError.is(await rejection(transfer.done), 'CANCELLED')).toBe(true);
    });

    it('cancel by the receiver: the sender is told CANCELLED and stops reading its source', async () => {
      const { a, bEva, incoming } = await peers();
      let returned = false;
      let pulled = 0;
      const source: AsyncIterable<Uint8Array> = {
        [Symbol.asyncIterator]: () => ({
          next: async () => {
            pulled += SOURCE_CHUNK;
            return { done: false, value: pattern(SOURCE_CHUNK, pulled) };
          },
          return: async () => {
            returned = true;
            return { done: true, value: undefined };
          },
        }),
      };
      const sent = a.send(bEva, source);
      const transfer = await incoming();
      await until('some bytes to arrive', timeoutMs, () => transfer.transferred > 0);
      transfer.cancel('not wanted');
      const error = await rejection(sent.done);
      expect(error.code).toBe('CANCELLED');
      expect(returned).toBe(true);
      expect(VnfError.is(await rejection(transfer.done), 'CANCELLED')).toBe(true);
      await expect(readAll(transfer.readable)).rejects.toMatchObject({ code: 'CANCELLED' });
    });

    it('a broken connection resumes from what the receiver has and completes with the same SHA-256 (seekable and not)', async () => {
      const { network, a, aEva, bEva, incoming } = await peers();
      for (const seekable of [true, false]) {
        const data = pattern(size, seekable ? 4 : 5);
        const arriving = incoming();
        const sent = a.send(bEva, seekable ? data : iterableOf(data, 50_000));
        const transfer = await arriving;
        const resumedAt: number[] = [];
        transfer.on('resumed', (p) => resumedAt.push(p.bytes));
        // Cut the moment half of it arrived (a poll could come too late on a fast stack).
        let cutAt = -1;
        let cutting: Promise<void> | null = null;
        transfer.on('progress', ({ bytes }) => {
          if (cutAt >= 0 || bytes < size / 2) return;
          cutAt = bytes;
          cutting = Promise.resolve(network.cut(aEva, bEva));
        });
        const reading = readAll(transfer.readable);
        const bytes = await reading;
        const [sentResult, gotResult] = await Promise.all([sent.done, transfer.done]);
        await cutting;
        expect(cutAt).toBeGreaterThan(0);
        expect(resumedAt.length).toBeGreaterThanOrEqual(1);
        expect(resumedAt[0]).toBeGreaterThanOrEqual(cutAt);
        expect(equalBytes(bytes, data)).toBe(true);
        expect(gotResult).toEqual(sentResult);
      }
    });

    it('one byte changed beneath the streams ends the transfer with INTEGRITY, never as good data', async () => {
      const { a, bEva, aEva, taps, incoming } = await peers();
      const random = seededRandom(7);
      let frames = 0;
      const corruptAt = 5 + Math.floor(random() * 10);
      for (const tap of taps) {
        tap.tap = (record, from, _to, forward) => {
          // A data frame (its first byte is the multiplex header's, its payload a stream data frame): change its last byte.
          if (from === aEva && record.byteLength > 1000 && ++frames === corruptAt) {
            const changed = record.slice();
            changed[changed.byteLength - 1]! ^= 0xff;
            return forward(changed);
          }
          forward(record);
        };
      }
      const sent = a.send(bEva, pattern(size, 6));
      const transfer = await incoming();
      const outcome = await readAll(transfer.readable).then(
        () => new Error('the stream closed as good'),
        (err: unknown) => err,
      );
      expect(VnfError.is(outcome, 'INTEGRITY')).toBe(true);
      expect(VnfError.is(await rejection(sent.done), 'INTEGRITY')).toBe(true);
    });

    it('whoever opens the receiver\'s eva after it went cannot take the rest of a transfer', async () => {
      const { network, a, bEva, bEndpoint, incoming } = await peers({ resumeTimeoutMs: timeoutMs });
      const sent = a.send(bEva, pattern(size, 8));
      const transfer = await incoming();
      await until('some bytes to arrive', timeoutMs, () => transfer.transferred > 0);
      bEndpoint.destroy();
      const newcomer = setup.createStreams(await network.open(bEva), { windowBytes: WINDOW, resumeTimeoutMs: timeoutMs, progressIntervalMs: 0 });
      cleanups.push(() => newcomer.close());
      let received = 0;
      newcomer.on('transfer', (t) => {
        received += 1;
        t.cancel();
      });
      const error = await rejection(sent.done);
      expect(['UNAVAILABLE', 'FORBIDDEN', 'CANCELLED']).toContain(error.code);
      expect(received).toBe(0);
    });
  });
}

/** Deterministic bytes, different per seed. */
function pattern(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 255;
  }
  return out;
}

function readableOf(data: Uint8Array, chunk: number): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= data.byteLength) return controller.close();
      controller.enqueue(data.slice(at, at + chunk));
      at += chunk;
    },
  });
}

async function* iterableOf(data: Uint8Array, chunk: number): AsyncIterable<Uint8Array> {
  for (let at = 0; at < data.byteLength; at += chunk) yield data.slice(at, at + chunk);
}

async function readAll(readable: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const reader = readable.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    total += value.byteLength;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

async function rejection(promise: Promise<unknown>): Promise<VnfError> {
  const outcome = await promise.then(
    (value) => new Error(`resolved ${JSON.stringify(value)}, expected a rejection`),
    (err: unknown) => err,
  );
  if (!(outcome instanceof VnfError)) throw outcome instanceof Error ? outcome : new Error(`rejected with a non-VnfError: ${String(outcome)}`);
  return outcome;
}

/** One message from a to b and back on the app's channel: everything either sent before it has arrived. */
async function roundTrip(a: MultiplexingEndpoint, b: MultiplexingEndpoint, timeoutMs: number): Promise<void> {
  const token = `ping-${Math.random()}`;
  const echo = ({ sourceEva, message }: { sourceEva: string; message: unknown }) => {
    if (message === token) b.send(sourceEva, token);
  };
  b.on('message', echo);
  try {
    const back = waitFor<void>('a round trip on the app channel', timeoutMs, (done) => {
      const listener = ({ message }: { message: unknown }) => {
        if (message !== token) return;
        a.off('message', listener);
        done();
      };
      a.on('message', listener);
    });
    a.send(b.eva, token);
    await back;
  } finally {
    b.off('message', echo);
  }
}
