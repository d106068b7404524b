'use strict';
// Bytes allocated by this process between start() and stop(), from V8's sampling heap profiler with
// collected objects included (so it counts garbage too, not only what survives). Each sample stands
// for about `interval` bytes; the profile's self sizes are already scaled to an estimate of the total.
const inspector = require('inspector');

let session = null;
const post = (method, params = {}) =>
  new Promise((resolve, reject) => session.post(method, params, (err, result) => (err ? reject(err) : resolve(result))));

async function start(interval = 4096) {
  if (!session) {
    session = new inspector.Session();
    session.connect();
    await post('HeapProfiler.enable');
  }
  await post('HeapProfiler.startSampling', { samplingInterval: interval, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
}

/** Stops sampling; resolves with the estimated bytes allocated since start(). */
async function stop() {
  const { profile } = await post('HeapProfiler.stopSampling');
  let total = 0;
  const stack = [profile.head];
  while (stack.length) {
    const node = stack.pop();
    total += node.selfSize;
    stack.push(...node.children);
  }
  return total;
}

module.exports = { start, stop };
