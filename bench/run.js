'use strict';
// `npm run bench`: runs every scenario of bench/scenarios/ in its own process, prints one table and
// writes bench/results/latest.json. Every VNF figure sits next to a baseline measured in this run.
//
//   node bench/run.js                 full run (a few minutes)
//   node bench/run.js --quick         smoke run: tiny counts, only checks that everything works
//   node bench/run.js relay rtc       only these scenarios
//   BENCH_FROM=dist node bench/run.js measure the built packages/*/dist instead of the sources
//   BENCH_CPU_PROF=dir node bench/run.js relay   also write V8 CPU profiles of the scenario and its
//                                     servers to dir; summarize with `node bench/lib/prof-summary.js dir/x.cpuprofile`
const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const table = require('./lib/table');

const SCENARIOS = [
  { id: 'relay', title: 'relay throughput and RTT (WebSocketHub via broker)', timeoutS: 480 },
  { id: 'idle-memory', title: 'idle memory per endpoint on the server' },
  { id: 'idle-cpu', title: 'server CPU and memory at 19 000 idle endpoints (heartbeats)', timeoutS: 600 },
  { id: 'rtc', title: 'RtcHub throughput', loopback: true },
  { id: 'marshaller', title: 'MarshallerHub 100 MB transfer', loopback: true },
  { id: 'reliable', title: 'ReliableHub goodput under loss' },
  { id: 'secure', title: 'SecureHub (Noise XX, ChaCha20-Poly1305) via broker and over RtcHub', loopback: true },
  { id: 'in-browser', title: 'InBrowserHub message rate' },
  { id: 'services', title: 'peer service calls through a relay (PeerServices via broker)', timeoutS: 240 },
  { id: 'fanout', title: 'fan-out: one sender to 100 members (WebSocketHub multicast via broker)', timeoutS: 240 },
  { id: 'fanout-slow', title: 'fan-out with a member that stops reading', timeoutS: 360 },
  { id: 'cluster', title: 'cluster: relay across two brokers on Redis vs one broker vs socket.io + redis-adapter', timeoutS: 420 },
  { id: 'streams', title: 'PeerStreams: 2 GiB over WebSocketHub and RtcHub, 512 MiB between Chromium pages, vs raw ws / simple-peer bulk', loopback: true, timeoutS: 900 },
];

const args = process.argv.slice(2);
const quick = args.includes('--quick') || process.env.BENCH_QUICK === '1';
const only = args.filter((a) => !a.startsWith('--'));
const root = path.resolve(__dirname, '..');
// WebRTC must not reach beyond this machine: those scenarios run in a namespace with only `lo`.
const loopbackOnly = process.env.VNF_LOOPBACK_ONLY || path.resolve(root, '../shared/bin/loopback-only');
/** A scenario's time limit: its own (`timeoutS`) or 240 s; 90 s in a quick run. */
const timeoutOf = (scenario) => (quick ? 90 : scenario.timeoutS || 240) * 1000;

function machine() {
  const cpu = os.cpus();
  const versions = {};
  for (const name of ['ws', 'socket.io', 'socket.io-client', 'simple-peer', '@roamhq/wrtc', 'eventemitter3', '@swc/core']) {
    try {
      // Resolved as @vnf/core resolves them: the in-browser baseline uses core's eventemitter3.
      versions[name] = require(require.resolve(`${name}/package.json`, { paths: [path.join(root, 'packages/core')] })).version;
    } catch {
      versions[name] = 'missing';
    }
  }
  for (const dir of fs.readdirSync(path.join(root, 'packages'))) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(root, 'packages', dir, 'package.json'), 'utf8'));
      versions[pkg.name] = pkg.version;
    } catch {
      /* a package without package.json has not landed */
    }
  }
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
  } catch {
    /* not a git checkout */
  }
  return {
    date: new Date().toISOString(),
    node: process.version,
    nproc: cpu.length,
    cpu: cpu[0] ? cpu[0].model : 'unknown',
    memoryGiB: +(os.totalmem() / 1024 ** 3).toFixed(1),
    loadavg: os.loadavg().map((l) => +l.toFixed(2)),
    commit,
    from: process.env.BENCH_FROM === 'dist' ? 'dist' : 'src',
    quick,
    versions,
  };
}

/** Node flags that write a CPU profile per process when BENCH_CPU_PROF names a directory. */
function profileArgs() {
  const dir = process.env.BENCH_CPU_PROF;
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(dir)}`] : [];
}

function runScenario(scenario) {
  return new Promise((resolve) => {
    const resultFile = path.join(os.tmpdir(), `vnf-bench-${process.pid}-${scenario.id}.json`);
    fs.rmSync(resultFile, { force: true });
    const host = path.join(__dirname, 'lib/scenario-host.js');
    const file = path.join(__dirname, 'scenarios', `${scenario.id}.js`);
    // Raise the descriptor limit to the hard limit: idle-memory holds 10 000 sockets on each side.
    let argv = ['sh', '-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', 'sh', process.execPath, '--expose-gc', ...profileArgs(), host, file, resultFile];
    if (scenario.loopback) {
      if (!fs.existsSync(loopbackOnly)) {
        return resolve({ notAvailable: true, reason: `needs ${loopbackOnly} (WebRTC runs only in a loopback-only namespace)` });
      }
      argv = [loopbackOnly, ...argv];
    }
    const started = Date.now();
    const child = spawn(argv[0], argv.slice(1), {
      cwd: root,
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, BENCH_QUICK: quick ? '1' : '0' },
      detached: true, // its own process group, so a timeout kills the scenario's servers too
    });
    const timeoutMs = timeoutOf(scenario);
    const timer = setTimeout(() => {
      console.error(`  ${scenario.id}: no result after ${timeoutMs / 1000} s, stopping it`);
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }, timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      let result;
      try {
        result = JSON.parse(fs.readFileSync(resultFile, 'utf8'));
        fs.rmSync(resultFile, { force: true });
      } catch {
        result = { error: `exited with ${signal || code} without a result` };
      }
      result.seconds = +((Date.now() - started) / 1000).toFixed(1);
      resolve(result);
    });
  });
}

async function main() {
  const meta = machine();
  console.log(`VNF bench ${quick ? '(quick smoke run: figures are not meaningful) ' : ''}— ${meta.date}, node ${meta.node}, ${meta.nproc}× ${meta.cpu}, load ${meta.loadavg.join(' ')}, from ${meta.from}`);
  const selected = SCENARIOS.filter((s) => only.length === 0 || only.includes(s.id));
  const results = {};
  const rows = [];
  for (const scenario of selected) {
    console.log(`\n▶ ${scenario.id}: ${scenario.title}`);
    const result = await runScenario(scenario);
    results[scenario.id] = result;
    if (result.rows && result.rows.length) {
      rows.push(...result.rows);
      console.log(`  done in ${result.seconds} s`);
    } else {
      const why = result.notAvailable ? `not available: ${result.reason}` : `failed: ${(result.error || 'no rows').split('\n')[0]}`;
      rows.push({ scenario: scenario.id, metric: scenario.title, value: why.startsWith('not') ? 'not available' : 'failed', note: why });
      console.log(`  ${why}`);
      if (!result.notAvailable && result.error) console.error(result.error);
    }
  }
  console.log(`\n${table.text(rows)}\n`);
  const outDir = path.join(__dirname, 'results');
  fs.mkdirSync(outDir, { recursive: true });
  const out = path.join(outDir, 'latest.json');
  fs.writeFileSync(out, JSON.stringify({ meta, rows, results, markdown: table.markdown(rows) }, null, 2));
  console.log(`wrote ${path.relative(process.cwd(), out)}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
