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

module.exports = { simplePeerPair, belowBuffered };
