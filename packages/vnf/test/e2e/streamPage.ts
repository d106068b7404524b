// Page side of streams.test.ts: a Chromium page with a PeerStreams on MultiplexHub(WebSocketHub) (or
// MultiplexHub(RtcHub(WebSocketHub))) from the window.Vnf bundle, driven through its window.streamTest hook; and, in
// Node, the same pseudo-random bytes (to hash with node:crypto) and a sampler of the page's heap through CDP.
import { createHash } from 'node:crypto';
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';

export type Stack = 'ws' | 'rtc';

/** Bytes a generator makes per call (and the source enqueues per pull); every size used is a multiple of 4. */
export const GENERATOR_BLOCK = 256 * 1024;

/**
 * xorshift32, one little-endian 32-bit word at a time: the page and Node make the same bytes from a seed. Kept as
 * source text so that the page runs exactly this function.
 */
const GENERATOR_SOURCE = `function generator(seed) {
  let x = seed | 0 || 1;
  return (out) => {
    const words = new Uint32Array(out.buffer, out.byteOffset, out.byteLength >>> 2);
    for (let i = 0; i < words.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      words[i] = x;
    }
    return out;
  };
}`;

const generator = new Function(`return (${GENERATOR_SOURCE})`)() as (seed: number) => (out: Uint8Array) => Uint8Array;

/** SHA-256 (hex) of the `total` bytes the page's source makes from `seed`, computed here with node:crypto. */
export function expectedSha256(total: number, seed: number): string {
  const fill = generator(seed);
  const block = new Uint8Array(GENERATOR_BLOCK);
  const hash = createHash('sha256');
  for (let made = 0; made < total; made += GENERATOR_BLOCK) hash.update(fill(block.subarray(0, Math.min(GENERATOR_BLOCK, total - made))));
  return hash.digest('hex');
}

/** What the page knows of one transfer, either way. */
export interface TransferRecord {
  name: string;
  role: 'out' | 'in';
  id: string;
  meta: { name: string; size: number | null; from: string; header: unknown } | null;
  /** Every `progress` event's bytes, in order. */
  progress: number[];
  /** Every `progress` event's total. */
  totals: Array<number | null>;
  done: { bytes: number; sha256: string } | null;
  error: { code: string; message: string } | null;
  /** Receiver: bytes read from `readable`, how its reading ended, the first byte that differed from the generator's. */
  readBytes: number;
  readEnd: 'closed' | 'errored' | null;
  readError: { code: string; message: string } | null;
  mismatchAt: number | null;
  /** Sender: bytes its source made, and whether the library cancelled it. */
  produced: number;
  sourceCancelled: string | null;
  cancelCalled: boolean;
  settled: boolean;
}

export interface SendSpec {
  target: string;
  name: string;
  total: number;
  seed: number;
  /** The sender cancels once its progress reaches this many bytes. */
  senderCancelAt?: number;
  /** The receiver cancels once it read this many bytes. */
  receiverCancelAt?: number;
}

/** Installed once per page (after the bundle): window.streamTest. */
const PAGE_LIB = `(() => {
  const V = window.Vnf;
  const BLOCK = ${GENERATOR_BLOCK};
  const generator = ${GENERATOR_SOURCE};
  const records = new Map();
  const waiters = new Map();
  let state = null;
  const errInfo = (e) => ({ code: (e && e.code) || 'NOT_A_VNF_ERROR', message: String((e && e.message) || e) });

  function record(name, role) {
    const rec = { name, role, id: '', meta: null, progress: [], totals: [], done: null, error: null, readBytes: 0, readEnd: null,
      readError: null, mismatchAt: null, produced: 0, sourceCancelled: null, cancelCalled: false, settled: false };
    records.set(name, rec);
    for (const resolve of waiters.get(name) || []) resolve(rec);
    waiters.delete(name);
    return rec;
  }

  // Deterministic bytes, made as they are read (highWaterMark 0: one pull per read, nothing made ahead).
  function source(total, seed, rec) {
    const fill = generator(seed);
    return new ReadableStream({
      pull(controller) {
        if (rec.produced >= total) return controller.close();
        const n = Math.min(BLOCK, total - rec.produced);
        controller.enqueue(fill(new Uint8Array(n)));
        rec.produced += n;
      },
      cancel(reason) { rec.sourceCancelled = String(reason); },
    }, { highWaterMark: 0 });
  }

  function onTransfer(incoming) {
    const header = incoming.meta.header || {};
    const rec = record(incoming.meta.name, 'in');
    rec.id = incoming.meta.id;
    rec.meta = { name: incoming.meta.name, size: incoming.meta.size, from: incoming.meta.from, header: incoming.meta.header };
    incoming.on('progress', (p) => { rec.progress.push(p.bytes); rec.totals.push(p.total); });
    const done = incoming.done.then((r) => { rec.done = { bytes: r.bytes, sha256: r.sha256 }; }, (e) => { rec.error = errInfo(e); });
    const read = (async () => {
      const reader = incoming.readable.getReader();
      // The bytes are compared with the generator's as they come, without keeping them.
      // One block, filled again and again: checking makes no garbage.
      const fill = generator(header.seed);
      const expected = new Uint8Array(BLOCK);
      let at = BLOCK;
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          if (rec.mismatchAt === null) {
            for (let i = 0; i < value.length; i++) {
              if (at === BLOCK) {
                fill(expected);
                at = 0;
              }
              if (value[i] !== expected[at++]) {
                rec.mismatchAt = rec.readBytes + i;
                break;
              }
            }
          }
          rec.readBytes += value.length;
          if (header.cancelAt !== undefined && rec.readBytes >= header.cancelAt && !rec.cancelCalled) {
            rec.cancelCalled = true;
            incoming.cancel('the receiving page had read enough');
          }
        }
        rec.readEnd = 'closed';
      } catch (e) {
        rec.readEnd = 'errored';
        rec.readError = errInfo(e);
      }
    })();
    Promise.all([done, read]).then(() => { rec.settled = true; });
  }

  window.streamTest = {
    get ready() { return state !== null; },
    bundleHas(names) { return names.filter((n) => typeof V[n] !== 'function'); },
    open(url, eva, stack) {
      const webSocketHub = new V.WebSocketHub(new V.WebSocketFactory(url));
      const inner = stack === 'rtc' ? new V.RtcHub(webSocketHub, { iceServers: [] }) : webSocketHub;
      const hub = new V.MultiplexHub(inner);
      const endpoint = hub.openEndpoint(eva);
      const streams = new V.PeerStreams(endpoint);
      const errors = [];
      streams.on('error', (e) => errors.push(errInfo(e)));
      streams.on('transfer', onTransfer);
      state = { hub, inner, endpoint, streams, eva, stack, errors };
    },
    // Opens the connection, retrying while the peer's eva is not registered with the broker yet.
    async connect(target, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const event = await state.endpoint.openConnection(target);
        if (event.status === 'CONNECTED') return 'CONNECTED';
        if (event.reason !== 'NOT_FOUND' || Date.now() > deadline) return event.status + ': ' + event.reason;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    // The path beneath (RtcHub only): 'direct' when a data channel carries it.
    path(target) {
      return state.stack === 'rtc' ? state.inner.openEndpoint(state.eva).path(target) : 'broker';
    },
    send(spec) {
      const rec = record(spec.name, 'out');
      const out = state.streams.send(spec.target, source(spec.total, spec.seed, rec), {
        name: spec.name,
        size: spec.total,
        header: { seed: spec.seed, cancelAt: spec.receiverCancelAt },
      });
      rec.id = out.id;
      out.on('progress', (p) => {
        rec.progress.push(p.bytes);
        rec.totals.push(p.total);
        if (spec.senderCancelAt !== undefined && p.bytes >= spec.senderCancelAt && !rec.cancelCalled) {
          rec.cancelCalled = true;
          out.cancel('the sending page changed its mind');
        }
      });
      out.done.then((r) => { rec.done = { bytes: r.bytes, sha256: r.sha256 }; }, (e) => { rec.error = errInfo(e); }).then(() => { rec.settled = true; });
      return out.id;
    },
    // Resolves with the record once the transfer settled (its done and, on the receiver, its reading), or rejects
    // after timeoutMs with what it has.
    async settled(name, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      const rec = records.get(name) || (await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no transfer "' + name + '" within ' + timeoutMs + ' ms')), timeoutMs);
        const list = waiters.get(name) || [];
        list.push((r) => { clearTimeout(timer); resolve(r); });
        waiters.set(name, list);
      }));
      while (!rec.settled) {
        if (Date.now() > deadline) throw new Error('transfer "' + name + '" not settled within ' + timeoutMs + ' ms: ' + JSON.stringify({ ...rec, progress: rec.progress.slice(-3) }));
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return rec;
    },
    // Transfers still in progress, and what the PeerStreams reported as errors.
    status() {
      const { outgoing, incoming } = state.streams.transfers();
      return { outgoing: outgoing.length, incoming: incoming.length, errors: state.errors };
    },
    async close() {
      if (!state) return;
      await state.streams.close();
      await state.hub.close();
      await state.inner.close();
    },
  };
})();`;

type HookWindow = Window & {
  streamTest: {
    ready: boolean;
    bundleHas(names: string[]): string[];
    open(url: string, eva: string, stack: Stack): void;
    connect(target: string, timeoutMs: number): Promise<string>;
    path(target: string): string | null;
    send(spec: SendSpec): string;
    settled(name: string, timeoutMs: number): Promise<TransferRecord>;
    status(): { outgoing: number; incoming: number; errors: Array<{ code: string; message: string }> };
    close(): Promise<void>;
  };
};

/** Peaks of a page's memory over a sampling period, bytes (Runtime.getHeapUsage). */
export interface HeapPeaks {
  /** The V8 heap in use (the JS heap: objects, strings; JSHeapUsedSize). */
  heap: number;
  /** ArrayBuffer backing stores and external strings (off the heap: where the bytes of a transfer live). */
  arrayBuffers: number;
  /** The largest heap + arrayBuffers of one sample. */
  total: number;
  /** The same right after a full collection (HeapProfiler.collectGarbage): what the page holds. */
  heldHeap: number;
  heldArrayBuffers: number;
  samples: number;
}

interface HeapUsage {
  usedSize: number;
  totalSize: number;
  embedderHeapUsedSize?: number;
  backingStorageSize?: number;
}

/** Samples a page's heap through the DevTools protocol every `intervalMs` until stopped. */
export class HeapSampler {
  private peaks: HeapPeaks = { heap: 0, arrayBuffers: 0, total: 0, heldHeap: 0, heldArrayBuffers: 0, samples: 0 };
  private timer: ReturnType<typeof setTimeout> | null = null;
  private pending: Promise<void> = Promise.resolve();
  private running = false;

  constructor(
    private readonly cdp: CDPSession,
    private readonly intervalMs = 50,
  ) {}

  /** One sample now. Throws when this Chromium's getHeapUsage has no backingStorageSize (the arrayBuffers figure). */
  async sample(): Promise<{ heap: number; arrayBuffers: number }> {
    const usage = (await this.cdp.send('Runtime.getHeapUsage')) as HeapUsage;
    if (typeof usage.backingStorageSize !== 'number') {
      throw new Error(`Runtime.getHeapUsage of this Chromium has no backingStorageSize (got ${JSON.stringify(usage)}): the arrayBuffers figure cannot be measured`);
    }
    return { heap: usage.usedSize, arrayBuffers: usage.backingStorageSize };
  }

  /** One sample right after a full collection: what the page holds, garbage not counted. */
  async sampleHeld(): Promise<{ heap: number; arrayBuffers: number }> {
    await this.cdp.send('HeapProfiler.collectGarbage');
    return this.sample();
  }

  private async both(): Promise<void> {
    const raw = await this.sample();
    const held = await this.sampleHeld();
    this.peaks.heap = Math.max(this.peaks.heap, raw.heap);
    this.peaks.arrayBuffers = Math.max(this.peaks.arrayBuffers, raw.arrayBuffers);
    this.peaks.total = Math.max(this.peaks.total, raw.heap + raw.arrayBuffers);
    this.peaks.heldHeap = Math.max(this.peaks.heldHeap, held.heap);
    this.peaks.heldArrayBuffers = Math.max(this.peaks.heldArrayBuffers, held.arrayBuffers);
    this.peaks.samples++;
  }

  start(): void {
    this.peaks = { heap: 0, arrayBuffers: 0, total: 0, heldHeap: 0, heldArrayBuffers: 0, samples: 0 };
    this.running = true;
    const tick = (): void => {
      this.timer = null;
      this.pending = this.both().then(
        () => {
          if (this.running) this.timer = setTimeout(tick, this.intervalMs);
        },
        () => undefined,
      );
    };
    tick();
  }

  /** Stops after the sample in flight, with one last sample; the peaks. */
  async stop(): Promise<HeapPeaks> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.pending;
    await this.both();
    return { ...this.peaks };
  }
}

/** A page (in a browser context of its own: its own renderer, so its own heap) with one PeerStreams. */
export class StreamPage {
  readonly heap: HeapSampler;

  private constructor(
    private readonly context: BrowserContext,
    readonly page: Page,
    private readonly cdp: CDPSession,
    readonly eva: string,
    /** Page errors and console errors, for failure messages. */
    readonly problems: string[],
  ) {
    this.heap = new HeapSampler(cdp);
  }

  static async open(browser: Browser, options: { url: string; brokerUrl: string; eva: string; stack: Stack }): Promise<StreamPage> {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      const problems: string[] = [];
      page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
      page.on('console', (message) => {
        // The test server has no favicon: Chromium's request for one is no problem of the page.
        if (message.type() === 'error' && !message.location().url.endsWith('/favicon.ico')) problems.push(`console: ${message.text()} (${message.location().url})`);
      });
      await page.goto(options.url);
      await page.addScriptTag({ content: PAGE_LIB });
      const missing = await page.evaluate((names) => (window as unknown as HookWindow).streamTest.bundleHas(names), ['PeerStreams', 'MultiplexHub', 'WebSocketHub', 'WebSocketFactory', 'RtcHub']);
      if (missing.length > 0) throw new Error(`the browser bundle has no ${missing.join(', ')} on window.Vnf: rebuild it (npm run build)`);
      await page.evaluate(({ brokerUrl, eva, stack }) => (window as unknown as HookWindow).streamTest.open(brokerUrl, eva, stack), options);
      const cdp = await context.newCDPSession(page);
      return new StreamPage(context, page, cdp, options.eva, problems);
    } catch (err) {
      await context.close();
      throw err;
    }
  }

  /** A full garbage collection, so that the sampling starts from what is live. */
  async collectGarbage(): Promise<void> {
    await this.cdp.send('HeapProfiler.collectGarbage');
  }

  connect(target: string, timeoutMs = 30_000): Promise<string> {
    return this.page.evaluate(([t, ms]) => (window as unknown as HookWindow).streamTest.connect(t, ms), [target, timeoutMs] as const);
  }

  path(target: string): Promise<string | null> {
    return this.page.evaluate((t) => (window as unknown as HookWindow).streamTest.path(t), target);
  }

  send(spec: SendSpec): Promise<string> {
    return this.page.evaluate((s) => (window as unknown as HookWindow).streamTest.send(s), spec);
  }

  settled(name: string, timeoutMs = 60_000): Promise<TransferRecord> {
    return this.page.evaluate(([n, ms]) => (window as unknown as HookWindow).streamTest.settled(n, ms), [name, timeoutMs] as const);
  }

  status(): Promise<{ outgoing: number; incoming: number; errors: Array<{ code: string; message: string }> }> {
    return this.page.evaluate(() => (window as unknown as HookWindow).streamTest.status());
  }

  async close(): Promise<void> {
    await this.page.evaluate(() => (window as unknown as HookWindow).streamTest.close()).catch(() => undefined);
    await this.cdp.detach().catch(() => undefined);
    await this.context.close();
  }
}
