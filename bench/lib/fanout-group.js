'use strict';
// One fan-out system's processes for the fanout scenarios: its server (lib/server.js), `processes` member
// processes each holding members/processes members, and the sender, each in a process of its own
// (lib/fanout-host.js through lib/client.js). `run()` is one timed broadcast run.
const path = require('path');
const { startServer } = require('./server');
const { startClient } = require('./client');
const { withTimeout } = require('./measure');
const histogram = require('./latency-histogram');

const HOST = path.join(__dirname, 'fanout-host.js');
const env = (name, fallback) => (process.env[name] ? Number(process.env[name]) : fallback);

/**
 * The sender's window, in broadcasts: about 50 kB per member in flight (500 broadcasts of 100 B, as relay's window of
 * 1 000 messages is 100 kB), or BENCH_FANOUT_WINDOW; acknowledged every tenth of it.
 */
function windowFor(size) {
  const window = env('BENCH_FANOUT_WINDOW', Math.max(10, Math.round(50_000 / size)));
  return { window, ackEvery: Math.max(1, Math.floor(window / 10)) };
}

/** The knobs, from the environment (BENCH_FANOUT_*) or the defaults. */
function config(quick) {
  const size = env('BENCH_FANOUT_SIZE', 100);
  return {
    members: env('BENCH_FANOUT_MEMBERS', 100),
    size,
    processes: env('BENCH_FANOUT_PROCESSES', 2),
    ...windowFor(size),
    durationMs: env('BENCH_FANOUT_MS', quick ? 300 : 2_000),
    /** Broadcasts a second of the fixed-load latency runs (× members deliveries a second; below socket.io's limit). */
    rate: env('BENCH_FANOUT_RATE', 500),
    /**
     * fanout-slow: the run without a stalled member lasts slowDurationMs; in the run with it, m0 stops reading after
     * slowPauseAtMs and the run goes on until m0 is slowBehindMiB behind (more than the kernel's socket buffers and
     * the broker's sendBufferLimit together hold: 32 MiB receive + 4 MiB send + 16 MiB) or for slowMaxMs.
     */
    slowDurationMs: env('BENCH_FANOUT_SLOW_MS', quick ? 600 : 6_000),
    slowPauseAtMs: env('BENCH_FANOUT_SLOW_PAUSE_MS', quick ? 150 : 1_000),
    slowBehindMiB: env('BENCH_FANOUT_SLOW_BEHIND_MIB', quick ? 4 : 64),
    slowMaxMs: env('BENCH_FANOUT_SLOW_MAX_MS', quick ? 1_500 : 20_000),
    /** Reps of VNF, and of each baseline (raw ws batched and socket.io never hold a sender back; one rep shows it). */
    slowReps: env('BENCH_FANOUT_SLOW_REPS', quick ? 1 : 3),
    slowBaselineReps: env('BENCH_FANOUT_SLOW_BASELINE_REPS', 1),
    /** The slow-member runs' message size: big enough that what piles up for the stalled member passes the kernel's socket buffers within the run. */
    slowSize: env('BENCH_FANOUT_SLOW_SIZE', 4096),
    /** How long opening the members, and then the sender, may take (each). */
    openMs: env('BENCH_FANOUT_OPEN_MS', 30_000),
    /** Only these systems (comma-separated names), for development: BENCH_FANOUT_SYSTEMS='WebSocketHub,raw ws batched'. */
    only: process.env.BENCH_FANOUT_SYSTEMS ? process.env.BENCH_FANOUT_SYSTEMS.split(',').map((x) => x.trim()) : null,
    reps: env('BENCH_FANOUT_REPS', quick ? 1 : 5),
    /** The sender sends only while its buffer (hub queue + socket) is below this, as an app pacing on bufferedAmount does. */
    paceBytes: env('BENCH_FANOUT_PACE_BYTES', 512 * 1024),
    /** A sender that waited this long for the window or the drain is held back: the run ends there. */
    stallCapMs: env('BENCH_FANOUT_STALL_CAP_MS', 30_000),
    /** How long the members may receive nothing before a run counts what arrived as all that will. */
    quietMs: env('BENCH_FANOUT_QUIET_MS', 2_000),
  };
}

/**
 * Opens server, member processes and sender of `system`. Members are m0…m<n-1>, split in contiguous blocks;
 * the last member of each process acknowledges (through the relay); with `slow`, m0 is the member that may stop reading.
 */
async function openGroup(system, cfg, { slow = false } = {}) {
  if (system.load) system.load(); // a package that has not landed: "not available" before any process starts
  const evas = Array.from({ length: cfg.members }, (_, i) => `m${i}`);
  const server = await startServer(system.server);
  const receivers = [];
  let sender = null;
  const close = async () => {
    await Promise.all([sender && sender.close(), ...receivers.map((r) => r.close())]);
    await server.close();
  };
  try {
    const per = Math.ceil(cfg.members / cfg.processes);
    for (let p = 0; p < cfg.processes; p++) {
      const block = evas.slice(p * per, (p + 1) * per);
      if (!block.length) break;
      const receiver = await startClient(`${system.server}-members-${p}`, { host: HOST });
      receivers.push(receiver);
      await withTimeout(
        receiver.request('openMembers', { system: system.name, url: server.url, evas: block, acker: block.length - 1, slow: slow && p === 0 ? 0 : null }),
        cfg.openMs,
        `${system.name}: opening ${block.length} members`,
      );
    }
    sender = await startClient(`${system.server}-sender`, { host: HOST });
    await withTimeout(sender.request('openSender', { system: system.name, url: server.url, members: evas, size: cfg.size, openMs: cfg.openMs }), cfg.openMs, `${system.name}: sender connecting to ${evas.length} members`);
    await withTimeout(Promise.all(receivers.map((r) => r.request('connected'))), 15_000, `${system.name}: members learning of the sender`);
  } catch (err) {
    await close();
    throw err;
  }
  return {
    system,
    pids: [server.pid, sender.pid, ...receivers.map((r) => r.pid)],
    /**
     * One run of `durationMs`; with `pauseAtMs`, the slow member stops reading that long after the start.
     * Deliveries, latency and completeness count the members that kept reading.
     */
    async run(durationMs, { pauseAtMs = null, rate = null, stopBehindBytes = null } = {}) {
      await Promise.all(receivers.map((r) => r.request('arm', { ackEvery: cfg.ackEvery })));
      const cpuBefore = await Promise.all([server.cpu(), sender.cpu(), ...receivers.map((r) => r.cpu())]);
      let pausedAt = null;
      const pauseTimer = pauseAtMs === null ? null : setTimeout(() => receivers[0].request('pause').then((r) => (pausedAt = r.at)), pauseAtMs);
      // With stopBehindBytes, the run ends once the stalled member is that far behind (or after durationMs).
      let behindAtStop = null;
      const poll =
        stopBehindBytes === null
          ? null
          : setInterval(async () => {
              if (pausedAt === null || behindAtStop !== null) return;
              const [s, m] = await Promise.all([sender.request('progress'), receivers[0].request('progress')]);
              if (s.sent !== null && (s.sent - m.slowDelivered) * cfg.size >= stopBehindBytes) {
                behindAtStop = (s.sent - m.slowDelivered) * cfg.size;
                sender.request('stop');
              }
            }, 200);
      const sent = await withTimeout(
        sender.request('send', { durationMs, window: cfg.window, ackers: receivers.length, size: cfg.size, paceBytes: cfg.paceBytes, stallCapMs: cfg.stallCapMs, rate }),
        durationMs + cfg.stallCapMs + 30_000,
        `${system.name}: broadcasting for ${durationMs} ms`,
      );
      if (pauseTimer) clearTimeout(pauseTimer);
      if (poll) clearInterval(poll);
      const got = await withTimeout(
        Promise.all(receivers.map((r) => r.request('finish', { total: sent.sent, quietMs: cfg.quietMs }))),
        60_000 + cfg.quietMs,
        `${system.name}: members receiving ${sent.sent} broadcasts`,
      );
      // The stalled member reads again: what still reaches it had been buffered for it (kernel and relay); the rest was dropped.
      const resumed = pauseAtMs === null ? null : await withTimeout(receivers[0].request('resume', { quietMs: 500 }), 40_000, `${system.name}: the stalled member reading on`);
      const cpuAfter = await Promise.all([server.cpu(), sender.cpu(), ...receivers.map((r) => r.cpu())]);
      const cpuMs = cpuAfter.map((a, i) => (a.user + a.system - cpuBefore[i].user - cpuBefore[i].system) / 1000);
      const delivered = got.reduce((s, g) => s + g.delivered, 0);
      const expected = got.reduce((s, g) => s + g.expected, 0);
      const lastAt = Math.max(...got.map((g) => g.lastAt));
      const elapsedMs = lastAt - sent.start;
      const hist = histogram.merge(got.map((g) => g.hist));
      return {
        broadcasts: sent.sent,
        delivered,
        lost: expected - delivered,
        rate: delivered / (elapsedMs / 1000),
        elapsedMs,
        p50: histogram.percentile(hist, 50),
        p99: histogram.percentile(hist, 99),
        max: histogram.percentile(hist, 100),
        uplinkPerBroadcast: sent.bytes === null ? null : sent.bytes / sent.sent,
        waits: sent.waits,
        longestWaitMs: Math.max(sent.waits.window.max, sent.waits.drain.max),
        stalled: sent.stalled,
        slowDelivered: got.reduce((s, g) => s + g.slowDelivered, 0),
        pausedAfterMs: pausedAt === null ? null : pausedAt - sent.start,
        /** With a stalled member: what it got before and after it read on (of `broadcasts`), and members the relay cut off. */
        stalledMember: resumed === null ? null : { before: got.reduce((s, g) => s + g.slowDelivered, 0), after: resumed.slowDelivered, cutOff: resumed.cutOff },
        cpuMs: { server: cpuMs[0], sender: cpuMs[1], members: cpuMs.slice(2).reduce((a, b) => a + b, 0) },
      };
    },
    close,
  };
}

/** A run's one-line summary for the log. */
const describe = (r) =>
  `${(r.rate / 1e6).toFixed(3)} M deliveries/s (${r.broadcasts} broadcasts in ${r.elapsedMs.toFixed(0)} ms${r.lost ? `, ${r.lost} lost` : ''}), ` +
  `p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, uplink ${r.uplinkPerBroadcast === null ? 'n/a' : r.uplinkPerBroadcast.toFixed(1)} B/broadcast, ` +
  `sender's longest wait ${r.longestWaitMs.toFixed(1)} ms (drain ${r.waits.drain.max.toFixed(1)} ms)${r.stalled ? ' STALLED' : ''}, ` +
  `CPU ms server ${r.cpuMs.server.toFixed(0)} sender ${r.cpuMs.sender.toFixed(0)} members ${r.cpuMs.members.toFixed(0)}`;

module.exports = { config, windowFor, openGroup, describe };
