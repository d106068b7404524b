// @vnf/streams between two Chromium pages (issue 19, Done when: the Chromium part): PeerStreams from the window.Vnf
// bundle on MultiplexHub(WebSocketHub) through a real broker on 127.0.0.1 port 0 (and on MultiplexHub(RtcHub), a
// data channel between the pages). 64 MiB made on the fly in one page arrive in the other with the SHA-256 Node
// computes of the same bytes, each page's peak heap and ArrayBuffer memory (sampled through the DevTools protocol's
// Runtime.getHeapUsage every 50 ms) at most 64 MiB and printed; progress on both sides; cancel from either side.
// Run inside the loopback-only namespace:
//   ../shared/bin/loopback-only npx jest packages/vnf/test/e2e/streams.test.ts
import { Broker } from '@vnf/broker';
import { trackResources, type ResourceTracker } from '@vnf/conformance';
import type { Browser } from 'playwright-core';
import { BROKER_PATH, describeWithChromium, ensureBrowserBundle, launchChromium, startPageServer, type PageServer } from './helpers';
import { expectedSha256, StreamPage, type Stack, type TransferRecord } from './streamPage';

const MiB = 1024 * 1024;
const BIG = 64 * MiB;
/** The bound on each page's peak heap and on its peak ArrayBuffer memory during the big transfer. */
const PEAK_LIMIT = 64 * MiB;
const CANCELLED_SIZE = 16 * MiB;
const CANCEL_AT = 4 * MiB;
/** How long one transfer may take to settle, ms. */
const SETTLE_MS = 45_000;

const mib = (bytes: number): string => (bytes / MiB).toFixed(1);

/** Progress events' bytes never decrease. */
function nonDecreasing(list: readonly number[]): boolean {
  return list.every((bytes, i) => i === 0 || bytes >= list[i - 1]);
}

/** The parts of a record a failed expectation should show (not hundreds of progress figures). */
function brief(rec: TransferRecord): Record<string, unknown> {
  const { progress, totals, ...rest } = rec;
  return { ...rest, progressEvents: progress.length, firstProgress: progress.slice(0, 3), lastProgress: progress.slice(-3), totals: [...new Set(totals)] };
}

describeWithChromium('@vnf/streams between two Chromium pages, through a real broker', () => {
  let resources: ResourceTracker;
  let browser: Browser;
  let server: PageServer;
  let broker: Broker;
  let pages: StreamPage[] = [];

  beforeAll(async () => {
    resources = trackResources();
    ensureBrowserBundle();
    broker = new Broker();
    server = await startPageServer((http) => broker.attach(http, { path: BROKER_PATH }));
    browser = await launchChromium();
  }, 120_000);

  afterEach(async () => {
    await Promise.all(pages.map((page) => page.close()));
    pages = [];
  });

  afterAll(async () => {
    await browser?.close();
    await broker?.close();
    await server?.close();
    // Everything the suite opened is closed: no timer or socket of it left (jest's own timers for the hooks aside).
    await new Promise<void>((resolve, reject) => {
      const deadline = Date.now() + 10_000;
      const check = (): void => {
        const left = resources.alive().filter((r) => !/jest-circus|jest-runner/.test(r.createdAt));
        if (left.length === 0) return resolve();
        if (Date.now() > deadline) return reject(new Error(`still open after afterAll: ${left.map((r) => `${r.type} created at ${r.createdAt}`).join('\n  ')}`));
        // From an immediate: a timer counts as alive until its callback returns.
        setTimeout(() => setImmediate(check), 20);
      };
      check();
    }).finally(() => resources.stop());
  }, 60_000);

  /** Two pages, each in a context of its own (its own renderer and heap), the sender connected to the receiver. */
  async function pair(stack: Stack, tag: string): Promise<{ sender: StreamPage; receiver: StreamPage }> {
    const open = (role: string) => StreamPage.open(browser, { url: server.url, brokerUrl: server.brokerUrl, eva: `${role}-${tag}-${stack}`, stack });
    const opening = [open('sender'), open('receiver')];
    // What opened is kept for afterEach to close, even when the other failed to.
    for (const p of opening) void p.then((page) => pages.push(page), () => undefined);
    const [sender, receiver] = await Promise.all(opening);
    expect(await sender.connect(receiver.eva)).toBe('CONNECTED');
    return { sender, receiver };
  }

  it.each<Stack>(['ws', 'rtc'])(
    '64 MiB made on the fly in one page arrive in another over %s with the SHA-256 of Node, each page within 64 MiB of heap and of ArrayBuffers',
    async (stack) => {
      const seed = stack === 'ws' ? 0x5eed0019 : 0x0dc0ffee;
      const expected = expectedSha256(BIG, seed);
      const { sender, receiver } = await pair(stack, 'big');
      // From what is live: a collection before the sampling, none during it.
      await Promise.all([sender.collectGarbage(), receiver.collectGarbage()]);
      const before = await Promise.all([sender.heap.sample(), receiver.heap.sample()]);
      sender.heap.start();
      receiver.heap.start();
      const started = Date.now();
      await sender.send({ target: receiver.eva, name: 'big.bin', total: BIG, seed });
      const [sent, got] = await Promise.all([sender.settled('big.bin', SETTLE_MS), receiver.settled('big.bin', SETTLE_MS)]);
      const seconds = (Date.now() - started) / 1000;
      const [senderPeaks, receiverPeaks] = await Promise.all([sender.heap.stop(), receiver.heap.stop()]);
      const path = await sender.path(receiver.eva);

      console.info(
        `streams e2e (Chromium, ${stack === 'ws' ? 'MultiplexHub(WebSocketHub) through the broker' : `MultiplexHub(RtcHub), path ${path}`}): ` +
          `64 MiB page to page in ${seconds.toFixed(2)} s (${(BIG / MiB / seconds).toFixed(1)} MiB/s); ` +
          `sender holds at most heap ${mib(senderPeaks.heldHeap)} MiB, arrayBuffers ${mib(senderPeaks.heldArrayBuffers)} MiB ` +
          `(raw peaks, uncollected garbage included: ${mib(senderPeaks.heap)} / ${mib(senderPeaks.arrayBuffers)}, sum ${mib(senderPeaks.total)}); ` +
          `receiver holds at most heap ${mib(receiverPeaks.heldHeap)} MiB, arrayBuffers ${mib(receiverPeaks.heldArrayBuffers)} MiB ` +
          `(raw ${mib(receiverPeaks.heap)} / ${mib(receiverPeaks.arrayBuffers)}, sum ${mib(receiverPeaks.total)}); ` +
          `before: sender ${mib(before[0].heap)}/${mib(before[0].arrayBuffers)}, receiver ${mib(before[1].heap)}/${mib(before[1].arrayBuffers)} MiB; ` +
          `${senderPeaks.samples}/${receiverPeaks.samples} samples; sha256 ${expected}`,
      );

      // Every byte, in order, with the hash Node computed of the same generator's bytes, on both sides.
      expect(brief(sent)).toMatchObject({ error: null, done: { bytes: BIG, sha256: expected }, produced: BIG, sourceCancelled: null });
      expect(brief(got)).toMatchObject({ error: null, done: { bytes: BIG, sha256: expected }, readEnd: 'closed', readError: null, readBytes: BIG, mismatchAt: null });
      expect(got.meta).toMatchObject({ name: 'big.bin', size: BIG, from: sender.eva });
      // Progress on both sides: never decreasing, the last one the full size, the total known from the start.
      for (const rec of [sent, got]) {
        expect({ role: rec.role, nonDecreasing: nonDecreasing(rec.progress), last: rec.progress.at(-1), totals: [...new Set(rec.totals)] }).toEqual({
          role: rec.role,
          nonDecreasing: true,
          last: BIG,
          totals: [BIG],
        });
        expect(rec.progress.length).toBeGreaterThan(2);
      }
      // Memory: the transfer is streamed, not held (64 MiB held at once would be over the bound by itself). What each
      // page holds, sampled right after a full collection; the raw peaks (printed) count garbage V8 has not collected.
      expect(senderPeaks.samples).toBeGreaterThanOrEqual(3);
      expect(receiverPeaks.samples).toBeGreaterThanOrEqual(3);
      expect(senderPeaks.heldHeap).toBeLessThanOrEqual(PEAK_LIMIT);
      expect(senderPeaks.heldArrayBuffers).toBeLessThanOrEqual(PEAK_LIMIT);
      expect(receiverPeaks.heldHeap).toBeLessThanOrEqual(PEAK_LIMIT);
      expect(receiverPeaks.heldArrayBuffers).toBeLessThanOrEqual(PEAK_LIMIT);
      // RtcHub really made a data channel between the pages.
      if (stack === 'rtc') expect(path).toBe('direct');
      for (const page of [sender, receiver]) expect(await page.status()).toEqual({ outgoing: 0, incoming: 0, errors: [] });
      expect([...sender.problems, ...receiver.problems]).toEqual([]);
    },
    90_000,
  );

  it('the receiving page cancels a 16 MiB transfer mid-way: the sending page\'s done rejects CANCELLED, its source is cancelled; both saw progress', async () => {
    const { sender, receiver } = await pair('ws', 'rxcancel');
    await sender.send({ target: receiver.eva, name: 'cancelled-by-receiver.bin', total: CANCELLED_SIZE, seed: 7, receiverCancelAt: CANCEL_AT });
    const [sent, got] = await Promise.all([sender.settled('cancelled-by-receiver.bin', SETTLE_MS), receiver.settled('cancelled-by-receiver.bin', SETTLE_MS)]);

    expect(brief(sent)).toMatchObject({ done: null, error: { code: 'CANCELLED' } });
    expect(sent.error!.message).toContain('the receiving page had read enough');
    // The library cancelled the sender's ReadableStream, which made no more than its window ahead.
    expect(sent.sourceCancelled).not.toBeNull();
    expect(sent.produced).toBeLessThan(CANCELLED_SIZE);
    expect(brief(got)).toMatchObject({ done: null, error: { code: 'CANCELLED' }, readEnd: 'errored', readError: { code: 'CANCELLED' }, cancelCalled: true, mismatchAt: null });
    expect(got.readBytes).toBeGreaterThanOrEqual(CANCEL_AT);
    expect(got.readBytes).toBeLessThan(CANCELLED_SIZE);
    // Progress seen on both sides before the cancel, never decreasing, short of the size.
    for (const rec of [sent, got]) {
      expect({ role: rec.role, some: rec.progress.length > 0, nonDecreasing: nonDecreasing(rec.progress), short: (rec.progress.at(-1) ?? 0) < CANCELLED_SIZE }).toEqual({
        role: rec.role,
        some: true,
        nonDecreasing: true,
        short: true,
      });
    }
    expect(sent.progress.at(-1)).toBeGreaterThan(0);

    // Nothing left in progress, and the same pair streams again.
    for (const page of [sender, receiver]) expect(await page.status()).toEqual({ outgoing: 0, incoming: 0, errors: [] });
    await sender.send({ target: receiver.eva, name: 'after.bin', total: MiB, seed: 8 });
    const [again, gotAgain] = await Promise.all([sender.settled('after.bin', SETTLE_MS), receiver.settled('after.bin', SETTLE_MS)]);
    expect(again.done).toEqual({ bytes: MiB, sha256: expectedSha256(MiB, 8) });
    expect(brief(gotAgain)).toMatchObject({ done: again.done!, readEnd: 'closed', readBytes: MiB, mismatchAt: null });
    expect([...sender.problems, ...receiver.problems]).toEqual([]);
  }, 60_000);

  it('the sending page cancels a 16 MiB transfer mid-way: the receiving page\'s stream errors CANCELLED; both saw progress', async () => {
    const { sender, receiver } = await pair('ws', 'txcancel');
    await sender.send({ target: receiver.eva, name: 'cancelled-by-sender.bin', total: CANCELLED_SIZE, seed: 9, senderCancelAt: CANCEL_AT });
    const [sent, got] = await Promise.all([sender.settled('cancelled-by-sender.bin', SETTLE_MS), receiver.settled('cancelled-by-sender.bin', SETTLE_MS)]);

    expect(brief(sent)).toMatchObject({ done: null, error: { code: 'CANCELLED' }, cancelCalled: true });
    expect(sent.sourceCancelled).not.toBeNull();
    expect(brief(got)).toMatchObject({ done: null, error: { code: 'CANCELLED' }, readEnd: 'errored', readError: { code: 'CANCELLED' }, mismatchAt: null });
    expect(got.readError!.message).toContain('the sending page changed its mind');
    expect(got.readBytes).toBeLessThan(CANCELLED_SIZE);
    for (const rec of [sent, got]) {
      expect({ role: rec.role, some: rec.progress.length > 0, nonDecreasing: nonDecreasing(rec.progress), short: (rec.progress.at(-1) ?? 0) < CANCELLED_SIZE }).toEqual({
        role: rec.role,
        some: true,
        nonDecreasing: true,
        short: true,
      });
    }
    // The sender cancelled once the receiver had confirmed CANCEL_AT bytes; the receiver's own progress events come
    // at most every progressIntervalMs, so its last one may be from before that.
    expect(sent.progress.at(-1)).toBeGreaterThanOrEqual(CANCEL_AT);
    expect(got.progress.at(-1)).toBeGreaterThan(0);

    for (const page of [sender, receiver]) expect(await page.status()).toEqual({ outgoing: 0, incoming: 0, errors: [] });
    expect([...sender.problems, ...receiver.problems]).toEqual([]);
  }, 60_000);
});
