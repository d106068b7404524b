'use strict';
// One side of the services scenario in a process of its own (forked by lib/client.js): a provider or a
// caller of one system of lib/services-systems.js. Answers the bench over IPC:
//   open { system, role: 'provider' | 'caller', url, eva, peer }   opens the side (the provider must be first)
//   throughput { concurrency, durationMs }   keeps `concurrency` calls in flight until durationMs has passed,
//                                            then lets the last ones finish; answers { ms, calls, failed }
//   latency { count }                        `count` calls one after the other; answers their percentiles
//   cpu / close
require('./register');
const { byName } = require('./services-systems');
const { now, percentile } = require('./measure');

let side = null;
let handled = 0;

/** The small JSON object every call carries (about 90 B as JSON text); the provider echoes it. */
const paramsOf = (seq) => ({ seq, op: 'echo', args: [seq & 1023, 2, 3], text: 'the quick brown fox', flag: true });
/** The provider's handler: the params back, as they came. */
const echo = (params) => (handled++, params);

const handlers = {
  async open({ system, role, url, eva, peer }) {
    side = role === 'provider' ? await byName[system].provider(url, eva, echo) : await byName[system].caller(url, eva, peer);
  },
  async throughput({ concurrency, durationMs }) {
    const { call } = side;
    let seq = 0;
    let calls = 0;
    let failed = 0;
    let firstError = null;
    let active = 0;
    const started = now();
    const deadline = started + durationMs;
    return new Promise((resolve) => {
      const finished = () => {
        active--;
        if (now() < deadline) launch();
        else if (active === 0) resolve({ ms: now() - started, calls, failed, firstError });
      };
      const launch = () => {
        const n = seq++;
        active++;
        call(paramsOf(n)).then(
          (result) => {
            if (result && result.seq === n) calls++;
            else (failed++, (firstError ??= `wrong answer ${JSON.stringify(result)}`));
            finished();
          },
          (err) => {
            failed++;
            firstError ??= String((err && err.message) || err);
            finished();
          },
        );
      };
      for (let i = 0; i < concurrency; i++) launch();
    });
  },
  async latency({ count }) {
    const times = new Float64Array(count);
    let failed = 0;
    for (let i = 0; i < count; i++) {
      const t = now();
      const result = await side.call(paramsOf(i));
      times[i] = now() - t;
      if (!result || result.seq !== i) failed++;
    }
    times.sort();
    return { p50: percentile(times, 50), p99: percentile(times, 99), min: times[0], max: times[count - 1], failed };
  },
  async handled() {
    return { handled };
  },
  async cpu() {
    return { cpu: process.cpuUsage() };
  },
  async close() {
    if (side) await side.close();
    setImmediate(() => process.exit(0));
  },
};

process.on('message', async (msg) => {
  try {
    const result = await handlers[msg.type](msg);
    process.send({ ...result, id: msg.id, ok: true });
  } catch (err) {
    process.send({ id: msg.id, ok: false, error: String((err && err.stack) || err) });
  }
});
process.on('disconnect', () => process.exit(0));
process.send({ type: 'ready' });
