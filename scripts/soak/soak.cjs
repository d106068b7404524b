'use strict';
// `npm run soak`: the broker under attack, for minutes (not part of `npm test`). Loopback only (run.sh enters
// ../shared/bin/loopback-only), bounded in time, stops by itself. Prints a table at the end.
//
//   npm run soak                      everything: each attack with its baseline, then the 10⁶-frame fuzz
//   npm run soak -- --quick           short phases and a 2 × 10⁴-frame fuzz (checks that the soak works)
//   npm run soak -- ping-flood fuzz   only these phases (list-flood, list-flood-32, ping-flood, watch-fanout,
//                                     watch-fanout-60k, idle-connections, fuzz)
//   npm run soak -- rooms [--quick]   rooms end to end at soak size instead (scripts/soak/rooms.cjs): 16 members,
//                                     Chromium pages reloaded and killed, a member process killed
//   npm run soak -- cluster [--quick] the cluster on Redis at soak size (scripts/soak/cluster.cjs): 1 000 pairs and
//                                     100 000 messages across three broker processes, one killed with kill -9
//   VNF_SOAK_SEED=<n>                 the fuzz seed (printed either way)
//   VNF_SOAK_PARAMS='{"watch-fanout":{"perSecond":200}}'   an attack's parameters (attacker.cjs)
//   VNF_SOAK_CPU_PROF=<dir>           also writes a V8 CPU profile of the broker process to <dir>
//                                     (summarize: node bench/lib/prof-summary.js <dir>/<file>.cpuprofile)
//
// The broker runs in a process of its own, each attacker in another, the honest clients in this one. With
// taskset, the broker and this process share CPU 0 and the attackers get CPU 1, as if they came from another
// machine: the attacker's own CPU does not slow the honest pair down, only what it makes the broker do.
require('../../bench/lib/register');
if (process.argv.slice(2).includes('cluster')) {
  require('./cluster.cjs')
    .run(process.argv.slice(2))
    .then((code) => process.exit(code), (err) => (console.error('[soak cluster]', err.stack || String(err)), process.exit(1)));
  return;
}
if (process.argv.slice(2).includes('rooms')) {
  require('./rooms.cjs')
    .run(process.argv.slice(2))
    .then((code) => process.exit(code), (err) => (console.error('[soak rooms]', err.stack || String(err)), process.exit(1)));
  return;
}
const { fork, execFileSync } = require('child_process');
const path = require('path');
const { WebSocketHub } = require('@vnf/websocket-hub');
const { ATTACKERS, BoundFactory, HONEST, HonestPair } = require('../../packages/broker/test/adversarial/support.ts');

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const only = argv.filter((a) => !a.startsWith('--'));
const ATTACKS = ['list-flood', 'list-flood-32', 'ping-flood', 'watch-fanout', 'watch-fanout-60k', 'idle-connections'];
/** Phases that run an attack of attacker.cjs with other parameters (still within the default per-client limits). */
const VARIANTS = {
  'list-flood-32': { attack: 'list-flood', sockets: 32 },
  'watch-fanout-60k': { attack: 'watch-fanout', valueBytes: 60_000 },
};
const PHASES = [...ATTACKS, 'fuzz'].filter((p) => only.length === 0 || only.includes(p));
const BASELINE_MS = quick ? 2000 : 5000;
const WARMUP_MS = quick ? 500 : 2000;
const ATTACK_MS = quick ? 3000 : 10_000;
const FUZZ_FRAMES = quick ? 20_000 : 1_000_000;
const FUZZ_SEED = Number(process.env.VNF_SOAK_SEED ?? Math.floor(Math.random() * 2 ** 30));
const TIME_BOUND_MS = (quick ? 5 : 25) * 60_000;
/** Overrides of an attack's parameters (see attacker.cjs), e.g. VNF_SOAK_PARAMS='{"watch-fanout":{"perSecond":200}}'. */
const PARAMS = JSON.parse(process.env.VNF_SOAK_PARAMS || '{}');
/** Target of the hardening: the honest pair's p99 round trip under attack within this factor of its baseline. */
const P99_TARGET = 10;

const now = () => Number(process.hrtime.bigint()) / 1e6;
const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const log = (...a) => console.error('[soak]', ...a);
const children = new Set();

// ---- child processes ----------------------------------------------------------------------------

function pin(pid, cpu) {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A child process of scripts/soak (broker.cjs or attacker.cjs) and its IPC. */
class Child {
  constructor(file, cpu, execArgv = []) {
    this.proc = fork(path.join(__dirname, file), [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.add(this);
    this.pinned = pin(this.proc.pid, cpu);
    this.reports = [];
    this.listeners = [];
    this.proc.on('error', (err) => log(`${file}: ${err.message}`));
    this.proc.on('message', (m) => {
      if (m.type === 'report') this.reports.push(m);
      if (m.type === 'error') log(m.error);
      for (const l of [...this.listeners]) l(m);
    });
    this.exited = new Promise((resolve) => this.proc.once('exit', (code) => (children.delete(this), resolve(code))));
    // Listened for from the start: a child may load while the soak is busy with another.
    this.loaded = this.next('loaded');
    this.loaded.catch(() => undefined);
  }

  next(type, ms = 120_000, match = () => true) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`${type} did not come within ${ms} ms`)), ms);
      const onExit = () => done(new Error(`the child exited while waiting for ${type}`));
      const listener = (m) => (m.type === 'error' ? done(new Error(m.error)) : m.type === type && match(m) && done(null, m));
      const done = (err, m) => {
        clearTimeout(timer);
        this.listeners = this.listeners.filter((l) => l !== listener);
        this.proc.off('exit', onExit);
        err ? reject(err) : resolve(m);
      };
      this.listeners.push(listener);
      this.proc.once('exit', onExit);
    });
  }

  async start(args) {
    await this.loaded;
    const started = this.next('started');
    this.proc.send({ type: 'start', args });
    await started;
  }

  /** The child's stats; a child that failed (its error was logged) gives { failed }. */
  async stop(ms = 120_000) {
    if (!this.proc.connected) return { failed: `exited with ${await this.exited}` };
    try {
      const stopped = this.next('stopped', ms);
      this.proc.send({ type: 'stop' });
      const { stats } = await stopped;
      this.proc.send({ type: 'exit' });
      await this.exited;
      return stats;
    } catch (err) {
      this.kill();
      return { failed: err.message };
    }
  }

  kill() {
    if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
  }
}

async function startBroker(options) {
  const profile = process.env.VNF_SOAK_CPU_PROF;
  const broker = new Child('broker.cjs', 0, profile ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(profile)}`] : []);
  const address = broker.next('report', 60_000, (m) => m.what === 'address');
  await broker.start(options);
  const { url, port } = await address;
  return { child: broker, url, port, peakRss: () => Math.max(0, ...broker.reports.filter((r) => r.what === 'memory').map((r) => r.rss)) };
}

/** The broker's RSS in its latest report. */
function lastRss(broker) {
  const memory = broker.child.reports.filter((r) => r.what === 'memory');
  return memory.length ? memory[memory.length - 1].rss : 0;
}

// ---- the honest side ----------------------------------------------------------------------------

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/**
 * Two WebSocketHub endpoints on the honest address: `a` sends a sequence number, `b` echoes it, `a` times the
 * round trip, one at a time (every 2 ms at most). A reply that is not the one outstanding, or none within 5 s,
 * counts as lost or out of order; an `offline` or a lost connection as an honest disconnection.
 */
class RttPair {
  static async open(url, label) {
    const pair = new RttPair();
    pair.hub = new WebSocketHub(new BoundFactory(url, HONEST));
    pair.a = pair.hub.openEndpoint(`${label}-rtt-a`);
    pair.b = pair.hub.openEndpoint(`${label}-rtt-b`);
    pair.disconnections = [];
    pair.bad = [];
    pair.seq = 0;
    pair.waiting = null;
    for (const [self, other] of [
      [pair.a, pair.b],
      [pair.b, pair.a],
    ]) {
      self.on('offline', () => pair.disconnections.push(`${self.eva} offline`));
      self.on('error', () => undefined);
      self.onConnectionLost((eva) => eva === other.eva && pair.disconnections.push(`${self.eva} lost ${eva}`));
    }
    pair.strangers = 0;
    // Attackers may connect to the pair and send it anything (the fuzz does): only the partner's messages count.
    pair.b.onMessage = (e) => (e.sourceEva === pair.a.eva ? pair.b.send(pair.a.eva, e.message) : pair.strangers++);
    pair.a.onMessage = (e) => {
      if (e.sourceEva !== pair.b.eva) return void pair.strangers++;
      const w = pair.waiting;
      if (w && e.message === String(w.seq)) {
        pair.waiting = null;
        w.resolve(true);
      } else pair.bad.push(`unexpected ${e.message} (waiting for ${w ? w.seq : 'nothing'})`);
    };
    const opened = await pair.a.openConnection(pair.b.eva);
    if (opened.status !== 'CONNECTED') throw new Error(`the RTT pair could not connect: ${JSON.stringify(opened)}`);
    // Warm (JIT, socket buffers) before anything is measured.
    await pair.measure({ ms: 1000, newcomers: false });
    return pair;
  }

  roundTrip() {
    const seq = ++this.seq;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting = null;
        resolve(false);
      }, 5000);
      this.waiting = { seq, resolve: (ok) => (clearTimeout(timer), resolve(ok)) };
      this.a.send(this.b.eva, String(seq));
    });
  }

  /** Round trips until `done()` (or `ms` passed); with `newcomers`, a fresh endpoint registers every second meanwhile. */
  async measure({ ms = Infinity, done = () => false, newcomers = true }) {
    const samples = [];
    let lost = 0;
    const end = now() + ms;
    const probes = [];
    let stopProbes = false;
    const prober = newcomers
      ? (async () => {
          let n = 0;
          while (!stopProbes) {
            probes.push(await newcomer(this.hub, `${this.a.eva}-newcomer-${n++}`));
            await wait(1000);
          }
        })()
      : Promise.resolve();
    const start = now();
    const slow = [];
    while (now() < end && !done()) {
      const t0 = now();
      if (await this.roundTrip()) {
        samples.push(now() - t0);
        if (now() - t0 > 20) slow.push(`${((t0 - start) / 1000).toFixed(2)} s: ${(now() - t0).toFixed(0)} ms`);
      } else lost++;
      const spent = now() - t0;
      if (spent < 2) await wait(2 - spent);
    }
    stopProbes = true;
    await prober;
    samples.sort((x, y) => x - y);
    return {
      samples: samples.length,
      p50: percentile(samples, 50),
      p99: percentile(samples, 99),
      max: samples[samples.length - 1],
      lost,
      newcomers: probes.filter((p) => p.ok).length,
      newcomerFailures: probes.filter((p) => !p.ok).length,
      newcomerMax: Math.max(0, ...probes.map((p) => p.ms)),
      /** Round trips over 20 ms: when (from the start of the measurement) and how long. */
      slow,
    };
  }

  close() {
    return this.hub.close();
  }
}

/** A new endpoint on the honest address registers; how long its welcome took. */
async function newcomer(hub, eva) {
  const t0 = now();
  const endpoint = hub.openEndpoint(eva);
  let timer;
  const timeout = new Promise((resolve) => (timer = setTimeout(resolve, 10_000)));
  await Promise.race([endpoint.firstAttempt, timeout]);
  clearTimeout(timer);
  const result = { ok: endpoint.isOnline, ms: now() - t0 };
  endpoint.destroy();
  return result;
}

// ---- phases -------------------------------------------------------------------------------------

const rows = [];

async function attackPhase(broker, attack) {
  log(`${attack}: baseline ${BASELINE_MS} ms`);
  const pair = await RttPair.open(broker.url, attack);
  const base = await pair.measure({ ms: BASELINE_MS });
  const rssBefore = lastRss(broker);
  const attacker = new Child('attacker.cjs', 1);
  await attacker.start({ attack, url: broker.url, port: broker.port, ...(VARIANTS[attack] ?? {}), ...(PARAMS[attack] ?? {}) });
  log(`${attack}: attack running; ${WARMUP_MS} ms warm-up, ${ATTACK_MS} ms measured`);
  await wait(WARMUP_MS);
  const memoryFrom = broker.child.reports.length;
  const under = await pair.measure({ ms: ATTACK_MS });
  const peak = Math.max(0, ...broker.child.reports.slice(memoryFrom).filter((r) => r.what === 'memory').map((r) => r.rss));
  const stats = await attacker.stop();
  // The pair goes on after the attack: it must still be connected and in order.
  const after = await pair.measure({ ms: 500, newcomers: false });
  rows.push({ phase: attack, base, under, after, disconnections: [...pair.disconnections], bad: [...pair.bad], stats, rssBefore, peak, pinned: attacker.pinned });
  await pair.close();
}

async function fuzzPhase() {
  const maxPayload = 256 * 1024;
  // As in fuzz.test.ts: the control-rate limit lifted, so the fuzz reaches past the first second of each socket.
  const broker = await startBroker({ maxPayload, maxControlPerSecond: 0, maxControlPerSecondPerClient: 0 });
  try {
    const pair = await RttPair.open(broker.url, 'fuzz');
    const stream = await HonestPair.open(broker.url, 'fuzz-stream');
    log(`fuzz: baseline ${BASELINE_MS} ms`);
    const base = await pair.measure({ ms: BASELINE_MS });
    const rssBefore = lastRss(broker);
    const honestEvas = [pair.a.eva, pair.b.eva, stream.a.eva, stream.b.eva];
    const fuzzers = [0, 1].map(() => new Child('attacker.cjs', 1));
    let finished = 0;
    const frames = () => fuzzers.reduce((n, f) => n + Math.max(0, ...f.reports.filter((r) => r.what === 'progress' || r.what === 'done').map((r) => r.frames)), 0);
    for (const [i, f] of fuzzers.entries()) {
      f.next('report', TIME_BOUND_MS, (m) => m.what === 'done').then(
        () => finished++,
        (err) => log(`fuzzer ${i}: ${err.message}`),
      );
      await f.start({
        attack: 'fuzz',
        url: broker.url,
        frames: FUZZ_FRAMES / fuzzers.length,
        seed: FUZZ_SEED + i * 1_000_003,
        honestEvas,
        maxPayload,
        addresses: i === 0 ? ATTACKERS.slice(0, 3) : ATTACKERS.slice(3, 6),
        prefix: `fz${i}`,
        otherPrefixes: [`fz${1 - i}`],
      });
    }
    log(`fuzz: ${FUZZ_FRAMES} frames from ${fuzzers.length} processes, seed ${FUZZ_SEED}`);
    const t0 = now();
    const traffic = stream.background(10);
    const progress = setInterval(() => log(`fuzz: ${frames()} frames sent, ${stream.delivered} pair messages delivered`), 10_000);
    let under;
    let streamed = 0;
    let streamError = null;
    try {
      under = await pair.measure({ done: () => finished === fuzzers.length });
    } finally {
      clearInterval(progress);
      streamed = await traffic.stop().catch((err) => ((streamError = err.message), 0));
    }
    const seconds = (now() - t0) / 1000;
    const stats = [];
    for (const f of fuzzers) stats.push(await f.stop(300_000));
    await stream.settled(30_000).catch((err) => (streamError ??= err.message));
    const after = await pair.measure({ ms: 500, newcomers: false });
    const healthy = (() => {
      try {
        stream.assertHealthy();
        return null;
      } catch (err) {
        return err.message;
      }
    })();
    rows.push({
      phase: 'fuzz',
      base,
      under,
      after,
      disconnections: [...pair.disconnections, ...stream.disconnections],
      bad: [...pair.bad, ...stream.violations, ...(healthy ? [healthy] : []), ...(streamError ? [streamError] : [])],
      stats: { seed: FUZZ_SEED, seconds: Math.round(seconds), framesPerSecond: Math.round(frames() / seconds), streamed: stream.delivered, fuzzers: stats },
      rssBefore,
      peak: broker.peakRss(),
      pinned: fuzzers.every((f) => f.pinned),
    });
    await Promise.all([pair.close(), stream.close()]);
  } finally {
    await broker.child.stop();
  }
}

// ---- report -------------------------------------------------------------------------------------

const ms = (v) => (Number.isFinite(v) ? v.toFixed(2) : '-');
const mb = (v) => (v ? `${(v / 1048576).toFixed(0)} MB` : '-');

function table() {
  const head = ['phase', 'p50 base', 'p50 attack', 'p99 base', 'p99 attack', 'p99 ratio', 'max attack', 'RTT lost', 'honest disconnected', 'newcomers ok/failed (max ms)', 'broker RSS before → peak', 'target'];
  const body = rows.map((r) => {
    const ratio = r.under.p99 / r.base.p99;
    const harmed = r.disconnections.length > 0 || r.bad.length > 0 || r.under.lost > 0 || r.after.lost > 0 || r.under.newcomerFailures > 0;
    return [
      r.phase,
      ms(r.base.p50),
      ms(r.under.p50),
      ms(r.base.p99),
      ms(r.under.p99),
      `${ratio.toFixed(1)}×`,
      ms(r.under.max),
      String(r.under.lost + r.after.lost),
      r.disconnections.length ? `YES (${r.disconnections.length})` : 'no',
      `${r.under.newcomers}/${r.under.newcomerFailures} (${r.under.newcomerMax.toFixed(0)})`,
      `${mb(r.rssBefore)} → ${mb(r.peak)}`,
      ratio <= P99_TARGET && !harmed ? 'met' : 'MISSED',
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const line = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

async function main() {
  const watchdog = setTimeout(() => {
    log(`over the time bound (${TIME_BOUND_MS / 60_000} min): stopping`);
    for (const c of children) c.kill();
    process.exit(2);
  }, TIME_BOUND_MS);
  watchdog.unref();
  const pinned = pin(process.pid, 0);
  log(`${quick ? 'quick' : 'full'} soak: ${PHASES.join(', ')}; ${pinned ? 'broker and honest clients on CPU 0, attackers on CPU 1' : 'taskset unavailable: unpinned'}`);
  const started = now();
  const attacks = PHASES.filter((p) => ATTACKS.includes(p));
  if (attacks.length > 0) {
    // One broker with the default options (as deployed) takes every attack, one after the other.
    const broker = await startBroker({});
    try {
      // A fresh broker process is still compiling its hot paths: the first baseline would be its warm-up.
      const warm = await RttPair.open(broker.url, 'warm-up');
      await warm.measure({ ms: BASELINE_MS });
      await warm.close();
      for (const attack of attacks) await attackPhase(broker, attack);
    } finally {
      await broker.child.stop();
    }
  }
  if (PHASES.includes('fuzz')) await fuzzPhase();
  console.log(`\nVNF broker soak (${quick ? 'quick' : 'full'}), ${new Date().toISOString()}, ${Math.round((now() - started) / 1000)} s; round trips in ms, honest pair on ${HONEST}`);
  console.log(`baseline ${BASELINE_MS / 1000} s, then ${ATTACK_MS / 1000} s under attack after ${WARMUP_MS / 1000} s warm-up; target: p99 within ${P99_TARGET}× baseline, nothing lost, nobody honest disconnected\n`);
  console.log(table());
  console.log('\ndetails:');
  for (const r of rows) {
    console.log(`- ${r.phase}: samples ${r.base.samples}/${r.under.samples}; after the attack p99 ${ms(r.after.p99)} ms, lost ${r.after.lost}; attacker on its own CPU: ${r.pinned ? 'yes' : 'no'}`);
    if (r.under.slow.length) console.log(`  round trips over 20 ms under attack: ${r.under.slow.length} (${r.under.slow.slice(0, 8).join(', ')}${r.under.slow.length > 8 ? ', …' : ''})`);
    if (r.disconnections.length) console.log(`  honest disconnections: ${r.disconnections.join('; ')}`);
    if (r.bad.length) console.log(`  honest traffic broken: ${r.bad.slice(0, 5).join('; ')}`);
    console.log(`  attacker: ${JSON.stringify(r.stats)}`);
  }
  const missed = rows.filter((r) => r.disconnections.length || r.bad.length || r.under.lost || r.under.p99 / r.base.p99 > P99_TARGET);
  // Sockets still closing (the hubs' close handshakes) must not keep a finished soak alive.
  process.exit(missed.length ? 1 : 0);
}

main().catch((err) => {
  log(err.stack || String(err));
  for (const c of children) c.kill();
  process.exit(1);
});
