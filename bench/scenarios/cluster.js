'use strict';
// Relay across a broker cluster on Redis: an endpoint on broker A to one on broker B of a two-broker
// cluster on one redis-server, against the same two endpoints on ONE broker (no Redis), and against
// socket.io 4 with @socket.io/redis-adapter on the same two-node setup (sender on node A, receiver on
// node B, `io.to(peer).emit` through the adapter). 100 B strings; the clients are relay's
// (lib/relay-systems.js), the systems are in lib/cluster-systems.js, the redis-server is the bench's own
// (lib/redis-server.js: a free loopback port, no persistence, stopped at the end).
//   throughput: servers, sender and receiver each in a process of its own (lib/client.js); `total`
//               messages a → b, at most `window` unacknowledged, the receiver acknowledging every
//               window/10 through the relay (so the acknowledgements cross the cluster too); reps in
//               rotated order, medians. With each rep: CPU of every process (each server, sender,
//               receiver, and redis-server from `INFO cpu`), each server's peak RSS, and the Redis
//               commands the rep cost (`INFO commandstats`: XADD entries or PUBLISHes per message)
//   RTT: a sends, b echoes, a sends the next on arrival; 20 short rounds per system interleaved, the
//        median of the rounds' p50 and p99; once with this process, the servers and redis-server pinned
//        to one CPU, once free
const { startClient } = require('../lib/client');
const { systems, pair } = require('../lib/cluster-systems');
const { startRedis } = require('../lib/redis-server');
const { floors } = require('../lib/redis-floor');
const { median, percentile, now, withTimeout, messagePool } = require('../lib/measure');
const { row, atLeast, atMost } = require('../lib/rows');
const { pinTogether } = require('../lib/affinity');
const { loadVnf } = require('../lib/vnf');

const pool = messagePool(100);
const range = (values) => [Math.min(...values), Math.max(...values)];
/** socket.io runs a quarter of the count (it is several times slower), so the scenario stays short. */
const share = (system, total) => (system.name === 'socket.io-redis' ? total / 4 : total);
let tags = 0;
const nextTag = () => `${process.pid}-${++tags}`;

async function roundTrips(p, samples) {
  const times = [];
  p.b.onmessage = (s) => p.b.send(s);
  await withTimeout(
    new Promise((resolve) => {
      let sentAt = 0;
      const next = () => {
        sentAt = now();
        p.a.send(pool[times.length & 1023]);
      };
      p.a.onmessage = () => {
        times.push(now() - sentAt);
        if (times.length === samples) resolve();
        else next();
      };
      next();
    }),
    60_000,
    `${samples} round trips`,
  );
  return times;
}

/** The system's servers, its receiver (on urls[1]) and sender (on urls[0]), each in its own process. */
async function openTrio(system, redis) {
  const { urls, servers, keyPrefix } = await system.start(redis, nextTag());
  const receiver = await startClient('b');
  const sender = await startClient('a');
  const closeAll = () => Promise.all([sender.close(), receiver.close(), ...Object.values(servers).map((s) => s.close())]);
  try {
    await withTimeout(receiver.request('open', { system: system.client, url: urls[1], eva: 'b', peer: 'a' }), 15_000, `${system.name}: receiver opening`);
    await withTimeout(sender.request('open', { system: system.client, url: urls[0], eva: 'a', peer: 'b', initiator: true }), 15_000, `${system.name}: sender opening its connection`);
    await withTimeout(receiver.request('connected'), 10_000, `${system.name}: receiver learning of the connection`);
    for (const server of Object.values(servers)) await server.resetPeak(); // peak RSS sampled from now on
  } catch (err) {
    await closeAll();
    throw err;
  }
  const clients = { sender, receiver };
  const all = [...Object.entries(servers), ...Object.entries(clients)];
  return {
    system,
    servers,
    prefix: keyPrefix,
    async run(count, window) {
      const ackEvery = Math.max(1, window / 10);
      const total = Math.ceil(count / ackEvery) * ackEvery; // the receiver acknowledges whole groups
      await receiver.request('receive', { ackEvery });
      for (const [, server] of Object.entries(servers)) await server.resetPeak();
      await redis.resetStats();
      const redisBefore = await redis.cpuUs();
      const before = await Promise.all(all.map(([, p]) => p.cpu()));
      const { ms } = await withTimeout(sender.request('send', { total, window, ackEvery, size: 100 }), 90_000, `${system.name}: ${total} messages`);
      const after = await Promise.all(all.map(([, p]) => p.cpu()));
      const redisAfter = await redis.cpuUs();
      const commands = await redis.commandStats();
      const redisMemory = await redis.memory(); // the peak since RESETSTAT: Redis's memory high-water mark during the rep
      const cpuUs = {};
      const cpuShare = {};
      all.forEach(([name], i) => {
        const used = after[i].user + after[i].system - before[i].user - before[i].system;
        cpuUs[name] = used / total;
        cpuShare[name] = used / (ms * 1000); // of one core over the rep
      });
      cpuUs.redis = (redisAfter - redisBefore) / total;
      cpuShare.redis = (redisAfter - redisBefore) / (ms * 1000);
      const peakRss = {};
      for (const [name, server] of Object.entries(servers)) peakRss[name] = (await server.stats()).peakRss;
      const perMessage = {};
      for (const [cmd, { calls, usec }] of Object.entries(commands)) {
        if (cmd === 'info' || cmd === 'config|resetstat') continue;
        perMessage[cmd] = { calls: calls / total, usecPerCall: usec / calls };
      }
      return { rate: total / (ms / 1000), ms, total, cpuUs, cpuShare, peakRss, redisCommands: perMessage, redisPeak: redisMemory.used_memory_peak, redisUsed: redisMemory.used_memory };
    },
    close: closeAll,
  };
}

async function crossProcess({ quick, log, redis }) {
  const total = Number(process.env.BENCH_CLUSTER_TOTAL) || (quick ? 5_000 : 200_000);
  const windows = quick ? [1_000] : [1_000, 10_000];
  const reps = Number(process.env.BENCH_CLUSTER_REPS) || (quick ? 1 : 5);
  const trios = [];
  const unavailable = {};
  try {
    for (const system of systems) {
      try {
        const trio = await openTrio(system, redis);
        trios.push(trio);
        // Warm-up of a full run: JIT and buffers in every process.
        await trio.run(share(system, total), 1_000);
      } catch (err) {
        unavailable[system.name] = err.notAvailable ? 'not available' : `failed: ${err.message.split('\n')[0]}`;
        log(`${system.name} (cross-process): ${unavailable[system.name]}`);
        const i = trios.findIndex((t) => t.system === system);
        if (i >= 0) await trios.splice(i, 1)[0].close();
      }
    }
    const results = {};
    for (const window of windows) {
      for (let r = 0; r < reps; r++) {
        for (let i = 0; i < trios.length; i++) {
          const trio = trios[(i + r) % trios.length];
          const key = `${trio.system.name}@${window}`;
          const result = await trio.run(share(trio.system, total), window);
          (results[key] = results[key] || []).push(result);
          const cpu = Object.entries(result.cpuShare).map(([k, v]) => `${k} ${(v * 100).toFixed(0)} %`).join(', ');
          const rss = Object.entries(result.peakRss).map(([k, v]) => `${k} ${(v / 2 ** 20).toFixed(0)} MiB`).join(', ');
          const cmds = Object.entries(result.redisCommands).map(([k, v]) => `${k} ${v.calls.toFixed(4)}/msg ${v.usecPerCall.toFixed(1)} µs`).join(', ');
          log(`window ${window} rep ${r + 1} ${trio.system.name}: ${result.rate.toFixed(0)} msg/s; CPU ${cpu}; peak RSS ${rss}; redis used_memory peak ${(result.redisPeak / 2 ** 20).toFixed(1)} MiB${cmds ? `; redis ${cmds}` : ''}`);
        }
      }
    }
    const summary = {};
    for (const [key, list] of Object.entries(results)) {
      const rates = list.map((x) => x.rate);
      const med = (field) => Object.fromEntries(Object.keys(list[0][field]).map((k) => [k, median(list.map((x) => x[field][k]))]));
      const commands = {};
      for (const cmd of Object.keys(list[0].redisCommands)) {
        const have = list.filter((x) => x.redisCommands[cmd]);
        commands[cmd] = { calls: median(have.map((x) => x.redisCommands[cmd].calls)), usecPerCall: median(have.map((x) => x.redisCommands[cmd].usecPerCall)) };
      }
      const cpuUs = med('cpuUs');
      summary[key] = {
        rate: median(rates),
        range: range(rates),
        cpuUs,
        cpuShare: med('cpuShare'),
        peakRss: Object.fromEntries(Object.keys(list[0].peakRss).map((k) => [k, Math.max(...list.map((x) => x.peakRss[k]))])),
        redisCommands: commands,
        redisPeak: Math.max(...list.map((x) => x.redisPeak)),
        cpuTotalUs: Object.values(cpuUs).reduce((a, b) => a + b, 0),
      };
    }
    // What the cluster holds in Redis while its brokers are up, after all the reps (streams should be trimmed to nothing).
    const clusterTrio = trios.find((t) => t.prefix);
    const redisLive = clusterTrio ? await redisState(redis, clusterTrio.prefix) : null;
    if (redisLive) log(`redis with the cluster up after the reps: ${redisLive.keys} keys under ${clusterTrio.prefix}, ${redisLive.streamEntries} stream entries not yet trimmed, used_memory ${(redisLive.usedMemory / 2 ** 20).toFixed(1)} MiB`);
    return { summary, unavailable, total, windows, reps, runs: results, redisLive };
  } finally {
    for (const trio of trios) await trio.close();
  }
}

/**
 * Bulk: one sender paced only by its hub's backpressure (it writes while bufferedAmount is at most highWaterMark,
 * then waits for drain), as a bulk transfer writes, without the acknowledgement window of the runs above (which
 * makes them latency-bound: a round trip across the cluster is several times one broker's). Sender and receiver
 * are both in this process, for one broker and for the cluster alike; reps interleaved, medians.
 */
async function bulk({ quick, log, redis }) {
  const { WebSocketFactory, WebSocketHub } = loadVnf('websocket-hub', ['WebSocketFactory', 'WebSocketHub']);
  const total = quick ? 20_000 : 1_000_000;
  const reps = quick ? 1 : 3;
  const message = pool[0];
  const once = async (urls) => {
    const hubs = urls.map((url) => new WebSocketHub(new WebSocketFactory(url)));
    try {
      const a = hubs[0].openEndpoint(`bulk-a-${nextTag()}`);
      const b = hubs[1].openEndpoint(`bulk-b-${nextTag()}`);
      await Promise.all([a.firstAttempt, b.firstAttempt]);
      const opened = await a.openConnection(b.eva);
      if (opened.status !== 'CONNECTED') throw new Error(`bulk: ${opened.status} ${opened.reason}`);
      let received = 0;
      const done = new Promise((resolve) => {
        b.onMessage = () => {
          if (++received === total) resolve();
        };
      });
      const started = now();
      let sent = 0;
      const pump = () => {
        while (sent < total && a.bufferedAmount(b.eva) <= hubs[0].highWaterMark) {
          a.send(b.eva, message);
          sent++;
        }
        if (sent < total) a.once('drain', pump);
      };
      pump();
      await withTimeout(done, 120_000, 'bulk: the receiver to get every message');
      return total / ((now() - started) / 1000);
    } finally {
      await Promise.all(hubs.map((hub) => hub.close()));
    }
  };
  const started = [];
  const rates = {};
  try {
    for (const system of systems.filter((x) => x.client === 'WebSocketHub')) {
      const servers = await system.start(redis, nextTag());
      started.push({ system, servers });
      await once(servers.urls); // warm-up
    }
    for (let r = 0; r < reps; r++) {
      for (let i = 0; i < started.length; i++) {
        const { system, servers } = started[(i + r) % started.length];
        const rate = await once(servers.urls);
        (rates[system.name] = rates[system.name] || []).push(rate);
        log(`bulk rep ${r + 1} ${system.name}: ${rate.toFixed(0)} msg/s`);
      }
    }
  } finally {
    for (const { servers } of started) for (const server of Object.values(servers.servers)) await server.close();
  }
  return Object.fromEntries(Object.entries(rates).map(([name, list]) => [name, { rate: median(list), range: range(list) }]));
}

/** What the cluster left in Redis: its keys (and stream entries not yet trimmed), Redis's memory. */
async function redisState(redis, prefix = 'bench:') {
  const memory = await redis.memory();
  return { ...(await redis.keys(prefix)), usedMemory: memory.used_memory, usedMemoryRss: memory.used_memory_rss, usedMemoryPeak: memory.used_memory_peak };
}

exports.run = async ({ quick, log }) => {
  const redis = await startRedis();
  log(`redis-server ${redis.version} on ${redis.url} (pid ${redis.pid})`);
  const live = [];
  try {
    const redisAtStart = await redisState(redis);
    const cross = await crossProcess({ quick, log, redis });
    const bulkRates = await bulk({ quick, log, redis });
    const redisAfterThroughput = await redisState(redis);
    log(`redis after the throughput runs: ${redisAfterThroughput.keys} bench: keys, ${redisAfterThroughput.streamEntries} stream entries left, used_memory ${(redisAfterThroughput.usedMemory / 2 ** 20).toFixed(1)} MiB (peak ${(redisAfterThroughput.usedMemoryPeak / 2 ** 20).toFixed(1)} MiB), RSS ${(redisAfterThroughput.usedMemoryRss / 2 ** 20).toFixed(1)} MiB`);

    const samples = Number(process.env.BENCH_CLUSTER_RTT_SAMPLES) || (quick ? 200 : 10_000);
    const rounds = quick ? 1 : 20;
    const unavailable = { ...cross.unavailable };
    for (const system of systems) {
      let started = null;
      let p = null;
      try {
        started = await system.start(redis, nextTag());
        p = await withTimeout(pair(system, started.urls), 15_000, `${system.name}: opening the pair`);
        // Warm-up of the round-trip path, long enough for the optimizing compiler.
        await roundTrips(p, Math.max(200, samples / 2));
        live.push({ system, servers: Object.values(started.servers), pair: p });
      } catch (err) {
        unavailable[system.name] = err.notAvailable ? `not available: ${err.message.split('\n')[0]}` : `failed: ${err.message}`;
        log(`${system.name} (RTT): ${unavailable[system.name]}`);
        if (p) await p.close();
        if (started) for (const s of Object.values(started.servers)) await s.close();
      }
    }
    // The Redis hops alone (lib/redis-floor.js), measured in the same rounds: what the cluster's path adds to one broker's.
    for (const floor of floors) {
      let p = null;
      try {
        p = await withTimeout(floor.pair(redis, nextTag()), 15_000, `${floor.name}: opening the pair`);
        await roundTrips(p, Math.max(200, samples / 2));
        live.push({ system: floor, servers: [], pair: p });
      } catch (err) {
        unavailable[floor.name] = `failed: ${err.message}`;
        log(`${floor.name} (RTT floor): ${unavailable[floor.name]}`);
        if (p) await p.close();
      }
    }
    const results = Object.fromEntries(live.map(({ system }) => [system.name, {}]));
    const rotated = (r) => live.map((_, i) => live[(i + r) % live.length]);
    const rttPhase = async (key) => {
      const perRound = Object.fromEntries(live.map(({ system }) => [system.name, { p50: [], p99: [] }]));
      for (let r = 0; r < rounds; r++) {
        for (const { system, pair: p } of rotated(r)) {
          const sorted = (await roundTrips(p, samples / rounds)).sort((x, y) => x - y);
          perRound[system.name].p50.push(percentile(sorted, 50));
          perRound[system.name].p99.push(percentile(sorted, 99));
        }
      }
      for (const { system } of live) {
        const { p50, p99 } = perRound[system.name];
        results[system.name][key] = { p50: median(p50), p99: median(p99), p50Range: range(p50), p99Range: range(p99), rounds: p50.length };
        log(`${system.name}: RTT ${key} p50 ${median(p50).toFixed(3)} ms (rounds ${range(p50).map((x) => x.toFixed(3)).join('–')}), p99 ${median(p99).toFixed(3)} ms (rounds ${range(p99).map((x) => x.toFixed(3)).join('–')})`);
      }
    };
    const restore = pinTogether([process.pid, redis.pid, ...live.flatMap(({ servers }) => servers.map((s) => s.pid))]);
    try {
      await rttPhase(restore ? 'pinned' : 'free');
    } finally {
      if (restore) restore();
    }
    if (restore) await rttPhase('free');
    const redisAtEnd = await redisState(redis);

    const common = { scenario: 'cluster' };
    const rows = [];
    const summary = cross.summary;
    const CLUSTER = 'VNF cluster';
    const vnfOr = (key, field) => (summary[key] ? summary[key][field] : unavailable[CLUSTER] ? unavailable[CLUSTER].split(':')[0] : 'failed');
    const base = (name, key, field) => ({ name, value: summary[key] ? summary[key][field] : null });
    for (const window of cross.windows) {
      const at = (name) => `${name}@${window}`;
      const metric = `100 B throughput A → B, window ${window.toLocaleString('en')}`;
      const first = window === cross.windows[0];
      rows.push(row({ ...common, metric, unit: 'msg/s', value: vnfOr(at(CLUSTER), 'rate'), baseline: base('one broker', at('one broker'), 'rate'), target: first ? atLeast(0.7, '≥ 0.7× one broker') : undefined }));
      rows.push(row({ ...common, metric, unit: 'msg/s', value: vnfOr(at(CLUSTER), 'rate'), baseline: base('socket.io-redis', at('socket.io-redis'), 'rate'), target: first ? atLeast(1.5, '≥ 1.5× socket.io-redis') : undefined }));
    }
    rows.push(
      row({
        ...common,
        metric: '100 B bulk A → B, paced by backpressure (drain), sender and receiver in one process',
        unit: 'msg/s',
        value: bulkRates['VNF cluster'] ? bulkRates['VNF cluster'].rate : 'failed',
        baseline: { name: 'one broker', value: bulkRates['one broker'] ? bulkRates['one broker'].rate : null },
        target: atLeast(0.7, '≥ 0.7× one broker'),
      }),
    );
    const w = `@${cross.windows[0]}`;
    const cl = summary[`${CLUSTER}${w}`];
    const one = summary[`one broker${w}`];
    const sio = summary[`socket.io-redis${w}`];
    // CPU per relayed message: every server process plus redis-server, against the one broker and socket.io's two nodes plus redis.
    const serversAndRedis = (s, names) => (s ? names.reduce((sum, n) => sum + (s.cpuUs[n] || 0), 0) : null);
    rows.push(row({ ...common, metric: 'CPU per relayed message, brokers + redis-server', unit: 'µs', value: cl ? serversAndRedis(cl, ['broker A', 'broker B', 'redis']) : 'failed', baseline: { name: 'one broker', value: serversAndRedis(one, ['broker']) } }));
    rows.push(row({ ...common, metric: 'CPU per relayed message, brokers + redis-server', unit: 'µs', value: cl ? serversAndRedis(cl, ['broker A', 'broker B', 'redis']) : 'failed', baseline: { name: 'socket.io-redis (2 nodes + redis)', value: serversAndRedis(sio, ['server A', 'server B', 'redis']) } }));
    for (const part of ['broker A', 'broker B', 'redis']) {
      const label = part === 'redis' ? 'redis-server' : `${part} (${part === 'broker A' ? "sender's" : "receiver's"})`;
      rows.push(row({ ...common, metric: `CPU per relayed message, ${label}`, unit: 'µs', value: cl ? cl.cpuUs[part] : 'failed', baseline: part === 'redis' ? { name: 'socket.io-redis', value: sio ? sio.cpuUs.redis : null } : { name: 'one broker', value: one ? one.cpuUs.broker : null } }));
      rows.push(row({ ...common, metric: `CPU during the run (% of a core), ${label}`, unit: '%', value: cl ? cl.cpuShare[part] * 100 : 'failed', baseline: part === 'redis' ? { name: 'socket.io-redis', value: sio ? sio.cpuShare.redis * 100 : null } : { name: 'one broker', value: one ? one.cpuShare.broker * 100 : null } }));
      if (part !== 'redis') rows.push(row({ ...common, metric: `peak RSS during the runs, ${label}`, unit: 'B', value: cl ? cl.peakRss[part] : 'failed', baseline: { name: 'one broker', value: one ? one.peakRss.broker : null } }));
    }
    if (cl && cl.redisCommands.xadd) {
      const pub = sio && sio.redisCommands.publish;
      rows.push(row({ ...common, metric: 'relayed messages per Redis write (XADD entry; socket.io: PUBLISH)', unit: 'msg', value: 1 / cl.redisCommands.xadd.calls, baseline: { name: 'socket.io-redis', value: pub ? 1 / pub.calls : null } }));
    }
    if (cl) rows.push(row({ ...common, metric: 'Redis used_memory, peak during a rep', unit: 'B', value: cl.redisPeak, baseline: { name: 'socket.io-redis', value: sio ? sio.redisPeak : null } }));
    const rtt = (name, key, field) => (results[name] && results[name][key] ? results[name][key][field] : null);
    const vnfRtt = (key, field) => rtt(CLUSTER, key, field) ?? (unavailable[CLUSTER] ? unavailable[CLUSTER].split(':')[0] : 'failed');
    const phases = restore ? [['pinned', ' (1 CPU)'], ['free', ' (2 CPUs, free)']] : [['free', ' (not pinned: no taskset)']];
    // RTT targets, as speeds: 0.7× one broker's is a round trip at most 1/0.7 = 1.43× as long; 1.5× socket.io's at most 1/1.5 = 0.67× as long.
    for (const [key, where] of phases) {
      for (const p of ['p50', 'p99']) {
        rows.push(row({ ...common, metric: `RTT ${p}${where}`, unit: 'ms', value: vnfRtt(key, p), baseline: { name: 'one broker', value: rtt('one broker', key, p) }, target: atMost(1 / 0.7, '≤ 1.43× one broker (0.7× as fast)') }));
        rows.push(row({ ...common, metric: `RTT ${p}${where}`, unit: 'ms', value: vnfRtt(key, p), baseline: { name: 'socket.io-redis', value: rtt('socket.io-redis', key, p) }, target: atMost(1 / 1.5, '≤ 0.67× socket.io-redis (1.5× as fast)') }));
      }
      // Where the cluster's round trip goes: one broker's path plus two crossings of Redis (the floors, no broker).
      rows.push(row({ ...common, metric: `RTT p50${where}`, unit: 'ms', value: vnfRtt(key, 'p50'), baseline: { name: 'Redis streams alone (XADD → XREAD BLOCK, no broker)', value: rtt('redis streams', key, 'p50') } }));
      rows.push(row({ ...common, metric: `RTT p50${where}`, unit: 'ms', value: rtt('socket.io-redis', key, 'p50') ?? 'failed', baseline: { name: 'socket.io-redis vs Redis pub/sub alone (PUBLISH → SUBSCRIBE, no server)', value: rtt('redis pub/sub', key, 'p50') } }));
    }
    return {
      rows,
      details: { crossProcess: cross, bulk: bulkRates, samples, rounds, pinned: Boolean(restore), rtt: results, unavailable, redis: { version: redis.version, atStart: redisAtStart, afterThroughput: redisAfterThroughput, atEnd: redisAtEnd } },
    };
  } finally {
    for (const { pair: p, servers } of live) {
      await p.close();
      for (const s of servers) await s.close();
    }
    await redis.close();
  }
};
