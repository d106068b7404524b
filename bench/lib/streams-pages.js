'use strict';
// The Chromium part of scenarios/streams.js: two pages of one Chromium (playwright-core, /usr/bin/chromium, a
// context each) loading packages/vnf/dist/vnf.min.js (window.Vnf) from a small page server in this process; the
// broker and the raw relay run in their own processes (ws:// from the pages). Per system one sender page and one
// receiver page, fresh for that system:
//   PeerStreams over MultiplexHub(WebSocketHub) through the broker, and over MultiplexHub(RtcHub(WebSocketHub)) (a
//   data channel between the pages);
//   raw WebSocket through servers/raw-ws-bulk.js: 64 KiB messages, bufferedAmount polled (setTimeout 0) above 1 MiB;
//   raw RTCDataChannel between the pages (signaled through this process): 64 KiB messages, bufferedamountlow at
//   256 KiB once past 1 MiB.
// The source: fresh 1 MiB Uint8Arrays made in the sender page as they are asked for. Times are
// performance.timeOrigin + performance.now() (one wall clock for both pages, to a fraction of a millisecond).
// Memory: each page's JS heap (CDP Runtime.getHeapUsage every 50 ms, after a forced GC) over its value before.
const fs = require('fs');
const http = require('http');
const path = require('path');
const { median, withTimeout } = require('./measure');

const ROOT = path.resolve(__dirname, '../..');
const DIST = path.join(ROOT, 'packages/vnf/dist');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // WebRTC between the pages inside the loopback-only namespace: host candidates on lo.
  '--allow-loopback-in-peer-connection',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
  '--use-fake-ui-for-media-stream',
];
const MiB = 1024 * 1024;

const PAGE_LIB = `
window.bench = (() => {
  const MiB = 1024 * 1024;
  const RAW_MESSAGE = 64 * 1024;
  const RAW_HIGH = __RAW_HIGH__;
  const now = () => performance.timeOrigin + performance.now();
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  async function* generate(size, chunk = MiB) {
    for (let at = 0, n = 0; at < size; at += chunk, n++) {
      const b = new Uint8Array(Math.min(chunk, size - at));
      b.fill(n & 255);
      yield b;
    }
  }
  const b = { now };
  b.vnfOpen = async (stack, url, eva) => {
    const ws = new Vnf.WebSocketHub(new Vnf.WebSocketFactory(url));
    b.hub = new Vnf.MultiplexHub(stack === 'rtc' ? new Vnf.RtcHub(ws) : ws);
    b.endpoint = b.hub.openEndpoint(eva);
    b.streams = new Vnf.PeerStreams(b.endpoint);
    b.streams.on('error', (err) => console.error('streams error', err.code, err.message));
    // Online once the broker answers NOT_FOUND for an eva nobody has.
    for (let i = 0; i < 40; i++) {
      const event = await b.endpoint.openConnection('missing-' + eva);
      if (event.reason === 'NOT_FOUND') break;
      await sleep(250);
    }
    return { chunkSize: b.streams.chunkSize };
  };
  b.vnfArm = (mode, cancelAfter) => {
    b.armed = new Promise((resolve) => {
      b.streams.once('transfer', async (incoming) => {
        const progressAt = [];
        incoming.on('progress', () => progressAt.push(now()));
        let cancelAt = null;
        let afterCancelWire = 0;
        const onWire = (e) => {
          if (cancelAt !== null && typeof e.message !== 'string') afterCancelWire += e.message.byteLength;
        };
        const channel = b.streams.channel;
        if (channel) channel.on('message', onWire);
        const reader = incoming.readable.getReader();
        let lastAt = null;
        let maxGapMs = 0;
        let bytes = 0;
        let error = null;
        try {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            const at = now();
            if (lastAt !== null && at - lastAt > maxGapMs) maxGapMs = at - lastAt;
            lastAt = at;
            bytes += value.byteLength;
            if (mode === 'cancel' && cancelAt === null && bytes >= cancelAfter) {
              cancelAt = now();
              incoming.cancel('the bench cancels');
            }
          }
        } catch (err) {
          error = err.code || String(err);
        }
        let result = null;
        try {
          result = await incoming.done;
        } catch (err) {
          error = error || err.code || String(err);
        }
        const doneAt = now();
        if (mode === 'cancel') await sleep(500);
        if (channel) channel.off('message', onWire);
        resolve({ doneAt, bytes, maxGapMs, progressAt, cancelAt, afterCancelWire, error, sha256: result && result.sha256 });
      });
    });
    return true;
  };
  b.vnfResult = () => b.armed;
  b.vnfSend = async (to, size) => {
    const startAt = now();
    const out = b.streams.send(to, generate(size), { name: 'bench', size });
    let error = null;
    let result = null;
    try {
      result = await out.done;
    } catch (err) {
      error = err.code || String(err);
    }
    return { startAt, doneAt: now(), error, sha256: result && result.sha256 };
  };
  b.rawArm = (size) => {
    b.armed = new Promise((resolve) => {
      let bytes = 0;
      let lastAt = null;
      let maxGapMs = 0;
      b.rawHandler = (data) => {
        const at = now();
        if (lastAt !== null && at - lastAt > maxGapMs) maxGapMs = at - lastAt;
        lastAt = at;
        bytes += data.byteLength;
        if (bytes === size) resolve({ doneAt: at, bytes, maxGapMs });
      };
    });
    return true;
  };
  b.rawResult = () => b.armed;
  b.rawWsOpen = async (url, self, peer) => {
    const ws = new WebSocket(url + '/?id=' + self + '&peer=' + peer);
    ws.binaryType = 'arraybuffer';
    await new Promise((resolve, reject) => ((ws.onopen = resolve), (ws.onerror = reject)));
    ws.onmessage = (e) => b.rawHandler && b.rawHandler(e.data);
    b.rawSendOne = (bytes) => ws.send(bytes);
    // No drain event on a browser WebSocket: poll bufferedAmount, as an application has to.
    b.rawWait = async () => {
      while (ws.bufferedAmount > RAW_HIGH) await sleep(0);
    };
    await sleep(100);
    return true;
  };
  b.rtcOffer = async () => {
    const pc = new RTCPeerConnection({ iceServers: [] });
    const dc = pc.createDataChannel('bulk');
    b.rtcSetup(pc, dc);
    await pc.setLocalDescription(await pc.createOffer());
    await b.gathered(pc);
    return pc.localDescription.toJSON();
  };
  b.rtcAnswer = async (offer) => {
    const pc = new RTCPeerConnection({ iceServers: [] });
    b.channel = new Promise((resolve) => (pc.ondatachannel = (e) => (b.rtcSetup(pc, e.channel), resolve())));
    await pc.setRemoteDescription(offer);
    await pc.setLocalDescription(await pc.createAnswer());
    await b.gathered(pc);
    return pc.localDescription.toJSON();
  };
  b.rtcFinish = async (answer) => {
    if (answer) await b.pc.setRemoteDescription(answer);
    if (!b.dc) await b.channel;
    if (b.dc.readyState !== 'open') await new Promise((resolve) => b.dc.addEventListener('open', resolve, { once: true }));
    return true;
  };
  b.gathered = (pc) =>
    pc.iceGatheringState === 'complete' ? Promise.resolve() : new Promise((resolve) => pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve()));
  b.rtcSetup = (pc, dc) => {
    b.pc = pc;
    b.dc = dc;
    dc.binaryType = 'arraybuffer';
    dc.bufferedAmountLowThreshold = RAW_HIGH / 4;
    dc.onmessage = (e) => b.rawHandler && b.rawHandler(e.data);
    b.rawSendOne = (bytes) => dc.send(bytes);
    b.rawWait = () =>
      dc.bufferedAmount <= RAW_HIGH ? Promise.resolve() : new Promise((resolve) => dc.addEventListener('bufferedamountlow', resolve, { once: true }));
  };
  b.rawSend = async (size) => {
    const startAt = now();
    for await (const block of generate(size)) {
      for (let at = 0; at < block.byteLength; at += RAW_MESSAGE) {
        b.rawSendOne(block.subarray(at, at + RAW_MESSAGE));
        if (b.rawWait) await b.rawWait();
      }
    }
    return { startAt, doneAt: now() };
  };
  return b;
})();
`;

function pageServer() {
  const server = http.createServer((req, res) => {
    const file = new URL(req.url, 'http://x').pathname;
    if (file === '/vnf.min.js') {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' });
      res.end(fs.readFileSync(path.join(DIST, 'vnf.min.js')));
    } else if (file === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><meta charset="utf-8"><title>vnf bench</title><script src="/vnf.min.js"></script>');
    } else res.writeHead(file === '/favicon.ico' ? 204 : 404).end();
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${server.address().port}`,
        close: () => new Promise((done) => (server.closeAllConnections(), server.close(() => done()))),
      }),
    ),
  );
}

/** A page's JS heap over the transfer: CDP Runtime.getHeapUsage every 50 ms, over its value after a forced GC. */
async function heapWatch(cdp) {
  await cdp.send('HeapProfiler.collectGarbage');
  const first = await cdp.send('Runtime.getHeapUsage');
  const peak = { used: first.usedSize, backing: first.backingStorageSize || 0 };
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      try {
        const u = await cdp.send('Runtime.getHeapUsage');
        if (u.usedSize > peak.used) peak.used = u.usedSize;
        if ((u.backingStorageSize || 0) > peak.backing) peak.backing = u.backingStorageSize || 0;
      } catch {
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { peakHeapOver: peak.used - first.usedSize, peakBackingStoreOver: peak.backing - (first.backingStorageSize || 0), heapBefore: first.usedSize };
    },
  };
}

function cadence(times) {
  if (times.length < 2) return { count: times.length, perSecond: null, medianMs: null, maxMs: null };
  const gaps = times.slice(1).map((t, i) => t - times[i]);
  return { count: times.length, perSecond: (times.length - 1) / ((times[times.length - 1] - times[0]) / 1000), medianMs: median(gaps), maxMs: Math.max(...gaps) };
}

exports.run = async ({ brokerUrl, relayUrl, size, cancelReps, cancelAfter, log }) => {
  let chromium;
  try {
    ({ chromium } = require('playwright-core'));
  } catch (err) {
    throw Object.assign(new Error(`playwright-core does not load: ${err.message}`), { notAvailable: true });
  }
  if (!fs.existsSync(CHROMIUM)) throw Object.assign(new Error(`Chromium not found at ${CHROMIUM}`), { notAvailable: true });
  if (!fs.existsSync(path.join(DIST, 'vnf.min.js'))) throw Object.assign(new Error('packages/vnf/dist/vnf.min.js is not built'), { notAvailable: true });
  const server = await pageServer();
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 60_000 });
  const limit = (promise, what) => withTimeout(promise, 300_000, what);

  async function openPair() {
    const open = async (role) => {
      const context = await browser.newContext();
      const page = await context.newPage();
      page.on('console', (m) => (m.type() === 'error' ? log(`${role} page: ${m.text()}`) : undefined));
      page.on('pageerror', (e) => log(`${role} page error: ${e.message}`));
      await page.goto(server.url);
      await page.addScriptTag({ content: PAGE_LIB.replace('__RAW_HIGH__', String(Number(process.env.BENCH_STREAMS_RAW_HIGH) || MiB)) });
      const cdp = await context.newCDPSession(page);
      return { page, cdp, context };
    };
    const rx = await open('receiver');
    const tx = await open('sender');
    return { rx, tx, close: () => Promise.all([rx.context.close(), tx.context.close()]) };
  }

  async function vnfPages(stack) {
    const { rx, tx, close } = await openPair();
    try {
      const info = await rx.page.evaluate(([s, u]) => bench.vnfOpen(s, u, 'prx'), [stack, brokerUrl]);
      await tx.page.evaluate(([s, u]) => bench.vnfOpen(s, u, 'ptx'), [stack, brokerUrl]);
      const transfer = async (bytes, measure) => {
        await rx.page.evaluate(() => bench.vnfArm('full'));
        const watches = measure ? await Promise.all([heapWatch(tx.cdp), heapWatch(rx.cdp)]) : null;
        const s = await limit(tx.page.evaluate((n) => bench.vnfSend('prx', n), bytes), 'the page transfer');
        const r = await limit(rx.page.evaluate(() => bench.vnfResult()), 'the page transfer');
        const memory = watches ? await Promise.all(watches.map((w) => w.stop())) : null;
        if (s.error || r.error || r.bytes !== bytes || r.sha256 !== s.sha256) throw new Error(`pages over ${stack}: sender ${s.error || 'ok'}, receiver ${r.error || 'ok'}, ${r.bytes} of ${bytes} bytes`);
        return { s, r, memory };
      };
      await transfer(8 * MiB, false);
      const { s, r, memory } = await transfer(size, true);
      const seconds = (r.doneAt - s.startAt) / 1000;
      const result = { mbPerSecond: size / 1e6 / seconds, seconds, maxGapMs: r.maxGapMs, sender: memory[0], receiver: memory[1], cadence: cadence(r.progressAt), chunkSize: info.chunkSize, cancels: [] };
      log(`Chromium PeerStreams/${stack}: ${size / MiB} MiB in ${seconds.toFixed(2)} s = ${result.mbPerSecond.toFixed(1)} MB/s (chunk ${info.chunkSize} B; peak JS heap +${(memory[0].peakHeapOver / MiB).toFixed(1)} / +${(memory[1].peakHeapOver / MiB).toFixed(1)} MiB, backing stores +${(memory[0].peakBackingStoreOver / MiB).toFixed(1)} / +${(memory[1].peakBackingStoreOver / MiB).toFixed(1)} MiB; progress median gap ${result.cadence.medianMs?.toFixed(1)} ms, max ${result.cadence.maxMs?.toFixed(1)} ms; longest pause in the data ${r.maxGapMs.toFixed(1)} ms)`);
      for (let i = 0; i < cancelReps; i++) {
        await rx.page.evaluate((n) => bench.vnfArm('cancel', n), cancelAfter);
        const cs = await limit(tx.page.evaluate((n) => bench.vnfSend('prx', n), 256 * MiB), 'a cancelled page transfer');
        const cr = await limit(rx.page.evaluate(() => bench.vnfResult()), 'a cancelled page transfer');
        if (cs.error !== 'CANCELLED' || cr.cancelAt === null) throw new Error(`cancel in pages over ${stack}: sender ${cs.error}, receiver ${cr.error}`);
        result.cancels.push({ latencyMs: cs.doneAt - cr.cancelAt, wireBytesAfter: cr.afterCancelWire });
      }
      if (cancelReps) {
        result.cancelLatencyMs = median(result.cancels.map((c) => c.latencyMs));
        result.cancelWireBytesAfter = median(result.cancels.map((c) => c.wireBytesAfter));
        log(`Chromium PeerStreams/${stack} cancel: ${result.cancels.map((c) => `${c.latencyMs.toFixed(1)} ms, ${(c.wireBytesAfter / 1024).toFixed(0)} KiB after`).join('; ')}`);
      }
      await Promise.all([rx, tx].map((p) => p.page.evaluate(() => bench.hub.close())));
      return result;
    } finally {
      await close();
    }
  }

  async function rawPages(kind) {
    const { rx, tx, close } = await openPair();
    try {
      if (kind === 'ws') {
        await rx.page.evaluate((u) => bench.rawWsOpen(u, 'prx', 'ptx'), relayUrl);
        await tx.page.evaluate((u) => bench.rawWsOpen(u, 'ptx', 'prx'), relayUrl);
      } else {
        const offer = await tx.page.evaluate(() => bench.rtcOffer());
        const answer = await rx.page.evaluate((o) => bench.rtcAnswer(o), offer);
        await limit(Promise.all([tx.page.evaluate((a) => bench.rtcFinish(a), answer), rx.page.evaluate(() => bench.rtcFinish(null))]), 'the data channel between the pages');
      }
      const transfer = async (bytes, measure) => {
        await rx.page.evaluate((n) => bench.rawArm(n), bytes);
        const watches = measure ? await Promise.all([heapWatch(tx.cdp), heapWatch(rx.cdp)]) : null;
        const s = await limit(tx.page.evaluate((n) => bench.rawSend(n), bytes), 'the raw page transfer');
        const r = await limit(rx.page.evaluate(() => bench.rawResult()), 'the raw page transfer');
        const memory = watches ? await Promise.all(watches.map((w) => w.stop())) : null;
        return { s, r, memory };
      };
      await transfer(8 * MiB, false);
      const { s, r, memory } = await transfer(size, true);
      const seconds = (r.doneAt - s.startAt) / 1000;
      const result = { mbPerSecond: size / 1e6 / seconds, seconds, maxGapMs: r.maxGapMs, sender: memory[0], receiver: memory[1] };
      log(`Chromium raw ${kind}: ${size / MiB} MiB in ${seconds.toFixed(2)} s = ${result.mbPerSecond.toFixed(1)} MB/s (peak JS heap +${(memory[0].peakHeapOver / MiB).toFixed(1)} / +${(memory[1].peakHeapOver / MiB).toFixed(1)} MiB, backing stores +${(memory[0].peakBackingStoreOver / MiB).toFixed(1)} / +${(memory[1].peakBackingStoreOver / MiB).toFixed(1)} MiB; longest pause in the data ${r.maxGapMs.toFixed(1)} ms)`);
      return result;
    } finally {
      await close();
    }
  }

  const results = {};
  const attempt = async (name, fn) => {
    try {
      results[name] = await fn();
    } catch (err) {
      log(`${name}: ${String(err.stack || err).split('\n').slice(0, 3).join(' | ')}`);
      results[name] = { failed: err.notAvailable ? 'not available' : 'failed', reason: String(err.message || err).split('\n')[0] };
    }
  };
  try {
    await attempt('Chromium PeerStreams/WebSocketHub', () => vnfPages('ws'));
    await attempt('Chromium raw WebSocket', () => rawPages('ws'));
    await attempt('Chromium PeerStreams/RtcHub', () => vnfPages('rtc'));
    await attempt('Chromium raw RTCDataChannel', () => rawPages('rtc'));
  } finally {
    await browser.close();
    await server.close();
  }
  return results;
};
