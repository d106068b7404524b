'use strict';
// One peer process of transfer.process.test.ts, on the built packages (`npm run build`):
//   node streamPeer.cjs <sender|receiver> <ws|rtc> <brokerUrl> <eva> <peerEva> <totalBytes> <breakAtBytes>
// Both use MultiplexHub(WebSocketHub) or MultiplexHub(RtcHub(WebSocketHub)) (no relay fallback) and a PeerStreams.
// The sender streams a Node Readable that generates <totalBytes> of deterministic pseudo-random bytes on the fly
// (AES-128-CTR over zeros) and hashes them itself; the receiver reads `incoming.readable` chunk by chunk and hashes
// what it reads, keeping none of it. Over IPC (process.send), to the test:
//   { t: 'ready' }                        the endpoint is registered with the broker
//   { t: 'half', bytes }                  receiver: its reads passed <breakAtBytes> (sent once, from the read loop)
//   { t: 'broken', channels }             sender: it closed its open RTCDataChannels, as told ({ t: 'break' })
//   { t: 'suspended' } / { t: 'resumed', bytes }   the transfer's events
//   { t: 'result', ... }                  the hashes, the resume offsets, the peak memory, the time
//   { t: 'failed', message }              anything that went wrong
// From the test: { t: 'send' } (sender: start), { t: 'break' } (sender, rtc: close the data channels),
// { t: 'quit' } (close everything and exit 0).
// Memory: what the process holds is `process.memoryUsage()` right after a full collection (`gc()`, the process runs
// with --expose-gc), every HELD_SAMPLE_MS; the raw figure, garbage not collected yet included, every SAMPLE_MS. V8
// lets ArrayBuffer memory grow about 64 MB past the last full collection before it forces one, so the raw peak of a
// fast transfer says more about V8's schedule than about what the transfer keeps.
const crypto = require('node:crypto');
const path = require('node:path');
const { Readable } = require('node:stream');

const Vnf = require(path.join(__dirname, '../../../vnf/dist/index.cjs'));

const [role, stack, brokerUrl, eva, peerEva, totalArg, breakArg] = process.argv.slice(2);
const TOTAL = Number(totalArg);
const BREAK_AT = Number(breakArg);
const CHUNK = 64 * 1024;
const SAMPLE_MS = 20;
const HELD_SAMPLE_MS = 100;
const STREAM_OPTIONS = { resumeTimeoutMs: 20_000 };
/** Deterministic: the same key and IV on every run, so the bytes (and their SHA-256) are the same every time. */
const KEY = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex');
const IV = Buffer.from('f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff', 'hex');

// ---- memory ---------------------------------------------------------------------------------

const peak = { heapUsed: 0, arrayBuffers: 0, rss: 0 };
const held = { heapUsed: 0, arrayBuffers: 0 };
function sample() {
  const usage = process.memoryUsage();
  if (usage.heapUsed > peak.heapUsed) peak.heapUsed = usage.heapUsed;
  if (usage.arrayBuffers > peak.arrayBuffers) peak.arrayBuffers = usage.arrayBuffers;
  if (usage.rss > peak.rss) peak.rss = usage.rss;
}
function sampleHeld() {
  global.gc();
  const usage = process.memoryUsage();
  if (usage.heapUsed > held.heapUsed) held.heapUsed = usage.heapUsed;
  if (usage.arrayBuffers > held.arrayBuffers) held.arrayBuffers = usage.arrayBuffers;
}
sample();
sampleHeld();
const sampler = setInterval(sample, SAMPLE_MS);
const heldSampler = setInterval(sampleHeld, HELD_SAMPLE_MS);

function report(message) {
  sample();
  process.send(message);
}

function fail(err) {
  report({ t: 'failed', message: `${role}: ${err && err.stack ? err.stack : String(err)}` });
}
process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);

// ---- WebRTC whose data channels the test can close --------------------------------------------

/** Every open RTCDataChannel of this process's peer connections, created or received; and how many there were in all. */
const channels = new Set();
let channelsSeen = 0;
function killableWrtc() {
  const wrtc = require('@roamhq/wrtc');
  const Base = wrtc.RTCPeerConnection;
  class RecordingPeerConnection extends Base {
    createDataChannel(label, init) {
      const channel = super.createDataChannel(label, init);
      channels.add(channel);
      channelsSeen++;
      return channel;
    }
    dispatchEvent(event) {
      if (event.type === 'datachannel') {
        channels.add(event.channel);
        channelsSeen++;
      }
      return super.dispatchEvent(event);
    }
  }
  return { RTCPeerConnection: RecordingPeerConnection, RTCSessionDescription: wrtc.RTCSessionDescription, RTCIceCandidate: wrtc.RTCIceCandidate };
}

/** Closes the open data channels: RtcHub (relay 'never') reports the connection lost on both sides. */
function breakChannels() {
  let closed = 0;
  for (const channel of channels) {
    if (channel.readyState === 'open' || channel.readyState === 'connecting') {
      channel.close();
      closed++;
    }
  }
  channels.clear();
  return closed;
}

// ---- the stack ------------------------------------------------------------------------------

const webSocketHub = new Vnf.WebSocketHub(new Vnf.WebSocketFactory(brokerUrl, { reconnect: { initialDelayMs: 50, maxDelayMs: 500 } }));
const wire = stack === 'rtc' ? new Vnf.RtcHub(webSocketHub, { wrtc: killableWrtc(), iceServers: [], relay: 'never' }) : webSocketHub;
const hub = new Vnf.MultiplexHub(wire);
const endpoint = hub.openEndpoint(eva);
// The same eva on the WebSocketHub once more is the very WebSocketEndpoint beneath (shared by the decorators).
const socketEndpoint = webSocketHub.openEndpoint(eva);
const streams = new Vnf.PeerStreams(endpoint, STREAM_OPTIONS);
streams.on('error', (error) => fail(error));

// The socket to the broker coming back after it dropped (the broker restarted).
let reconnects = 0;
socketEndpoint.on('online', () => reconnects++);

const resumedAt = [];
let suspensions = 0;
let suspendedAt = 0;
let stalledMs = 0;
function watch(transfer) {
  transfer.on('suspended', () => {
    suspensions++;
    suspendedAt = Date.now();
    report({ t: 'suspended' });
  });
  transfer.on('resumed', ({ bytes }) => {
    resumedAt.push(bytes);
    stalledMs += Date.now() - suspendedAt;
    report({ t: 'resumed', bytes });
  });
}

function finish(fields) {
  report({
    t: 'result',
    role,
    resumedAt,
    suspensions,
    stalledMs,
    reconnects,
    channelsSeen,
    peakHeapUsed: peak.heapUsed,
    peakArrayBuffers: peak.arrayBuffers,
    peakRss: peak.rss,
    heldHeapUsed: held.heapUsed,
    heldArrayBuffers: held.arrayBuffers,
    ...fields,
  });
}

// ---- sender ---------------------------------------------------------------------------------

/** A Node Readable of TOTAL pseudo-random bytes, made CHUNK at a time as it is read, hashed into `hash`. */
function randomBytesReadable(hash) {
  const cipher = crypto.createCipheriv('aes-128-ctr', KEY, IV);
  const zeros = Buffer.alloc(CHUNK);
  let made = 0;
  return new Readable({
    highWaterMark: 4 * CHUNK,
    read() {
      if (made >= TOTAL) {
        this.push(null);
        return;
      }
      const size = Math.min(CHUNK, TOTAL - made);
      const chunk = cipher.update(size === CHUNK ? zeros : zeros.subarray(0, size));
      made += chunk.byteLength;
      hash.update(chunk);
      this.push(chunk);
    },
  });
}

function startSending() {
  const hash = crypto.createHash('sha256');
  const started = Date.now();
  const out = streams.send(peerEva, randomBytesReadable(hash), { name: 'random.bin', type: 'application/octet-stream', size: TOTAL });
  watch(out);
  out.done.then(
    (result) => finish({ ms: Date.now() - started, bytes: result.bytes, ownSha256: hash.digest('hex'), doneSha256: result.sha256 }),
    (error) => fail(error),
  );
}

// ---- receiver -------------------------------------------------------------------------------

function receive(incoming) {
  watch(incoming);
  const hash = crypto.createHash('sha256');
  const started = Date.now();
  let read = 0;
  let halfTold = false;
  const reader = incoming.readable.getReader();
  (async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      hash.update(value);
      read += value.byteLength;
      if (!halfTold && read >= BREAK_AT) {
        halfTold = true;
        report({ t: 'half', bytes: read });
      }
    }
    const result = await incoming.done;
    finish({ ms: Date.now() - started, bytes: read, doneBytes: result.bytes, ownSha256: hash.digest('hex'), doneSha256: result.sha256, size: incoming.meta.size });
  })().catch(fail);
}

if (role === 'receiver') streams.on('transfer', receive);

// ---- commands -------------------------------------------------------------------------------

let quitting = false;
async function quit() {
  if (quitting) return;
  quitting = true;
  clearInterval(sampler);
  clearInterval(heldSampler);
  try {
    await streams.close();
    await hub.close();
  } finally {
    process.exit(0);
  }
}

process.on('message', (message) => {
  if (message.t === 'send') startSending();
  else if (message.t === 'break') report({ t: 'broken', channels: breakChannels() });
  else if (message.t === 'quit') void quit();
});
process.on('disconnect', () => void quit());

socketEndpoint.firstAttempt.then(() => {
  if (socketEndpoint.isOnline) report({ t: 'ready' });
  else fail(new Error(`${eva} is not online after its first attempt`));
});
