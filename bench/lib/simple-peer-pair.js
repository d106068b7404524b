'use strict';
// Two raw simple-peer peers on @roamhq/wrtc in this process, signaled directly to each other:
// the baseline of the WebRTC scenarios. No ICE servers: host candidates on loopback only.
const Peer = require('simple-peer');
const { withTimeout } = require('./measure');

async function simplePeerPair() {
  let wrtc;
  try {
    wrtc = require('@roamhq/wrtc');
  } catch (err) {
    const e = new Error(`@roamhq/wrtc does not load: ${err.message}`);
    e.notAvailable = true;
    throw e;
  }
  const config = { iceServers: [] };
  const p1 = new Peer({ initiator: true, wrtc, config });
  const p2 = new Peer({ wrtc, config });
  p1.on('signal', (data) => p2.signal(data));
  p2.on('signal', (data) => p1.signal(data));
  const connected = (p) => new Promise((resolve, reject) => (p.once('connect', resolve), p.once('error', reject)));
  await withTimeout(Promise.all([connected(p1), connected(p2)]), 20_000, 'simple-peer connect');
  return {
    p1,
    p2,
    close: () => (p1.destroy(), p2.destroy()),
  };
}

/**
 * Resolves once `peer`'s data channel buffers less than `low` bytes. @roamhq/wrtc does not fire
 * `bufferedamountlow`, so poll, as a real application on it has to.
 */
function belowBuffered(peer, low) {
  if (peer.bufferSize < low) return Promise.resolve();
  return new Promise((resolve) => {
    const check = () => (peer.bufferSize < low ? resolve() : setTimeout(check, 1));
    setTimeout(check, 1);
  });
}

/** Bytes of a record's length prefix in `batchedPerTick`'s messages. */
const LENGTH_BYTES = 4;

/**
 * What a competent application on raw simple-peer does with many small strings: everything sent in one
 * tick goes out as one data channel message of [length (4 bytes, big-endian), UTF-8 payload] records,
 * flushed once per tick (`flush: 'microtask'`, at the end of the current turn, or `'immediate'`, on the
 * next `setImmediate`), and the receiver splits it. Strings only: the records carry no type.
 * Returns `{ send(string), onMessage(fn) }`; `fn` gets each string.
 */
function batchedPerTick(sender, receiver, { flush = 'microtask' } = {}) {
  let pending = [];
  let bytes = 0;
  let scheduled = false;
  const defer = flush === 'immediate' ? setImmediate : queueMicrotask;
  const send = () => {
    scheduled = false;
    const batch = Buffer.allocUnsafe(bytes);
    let offset = 0;
    for (const text of pending) {
      const written = batch.write(text, offset + LENGTH_BYTES);
      batch.writeUInt32BE(written, offset);
      offset += LENGTH_BYTES + written;
    }
    pending = [];
    bytes = 0;
    sender.send(batch);
  };
  let handler = () => {};
  receiver.on('data', (data) => {
    for (let offset = 0; offset < data.length; ) {
      const end = offset + LENGTH_BYTES + data.readUInt32BE(offset);
      handler(data.toString('utf8', offset + LENGTH_BYTES, end));
      offset = end;
    }
  });
  return {
    send(text) {
      pending.push(text);
      bytes += LENGTH_BYTES + Buffer.byteLength(text);
      if (!scheduled) {
        scheduled = true;
        defer(send);
      }
    },
    onMessage(fn) {
      handler = fn;
    },
  };
}

module.exports = { simplePeerPair, belowBuffered, batchedPerTick };
