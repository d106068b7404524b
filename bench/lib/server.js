'use strict';
// Starts a server from bench/servers/ in a child process, so its CPU and memory are its own and
// the bench process's load cannot blur them.
const { fork } = require('child_process');
const path = require('path');

async function startServer(name, options = {}) {
  const child = fork(path.join(__dirname, 'server-host.js'), [path.join(__dirname, '../servers', `${name}.js`), JSON.stringify(options)], {
    execArgv: ['--expose-gc', ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(process.env.BENCH_CPU_PROF)}`] : [])],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let nextId = 0;
  const waiting = new Map();
  child.on('message', (msg) => {
    const resolve = waiting.get(msg.id);
    if (resolve) {
      waiting.delete(msg.id);
      resolve(msg);
    }
  });
  const request = (type, extra = {}) =>
    new Promise((resolve, reject) => {
      const id = ++nextId;
      waiting.set(id, resolve);
      child.send({ ...extra, type, id });
      setTimeout(() => waiting.has(id) && (waiting.delete(id), reject(new Error(`${name} server: no answer to ${type}`))), 60_000).unref();
    });
  const ready = await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`${name} server exited with ${code} before it was ready`)));
  });
  if (ready.type !== 'ready') {
    child.kill();
    const err = new Error(`${name} server failed: ${ready.error}`);
    err.notAvailable = ready.notAvailable;
    throw err;
  }
  return {
    url: ready.url,
    pid: child.pid,
    /** Memory after a full GC in the server process. */
    stats: () => request('stats'),
    resetPeak: () => request('resetPeak'),
    /** process.cpuUsage() of the server ({ user, system } µs). */
    cpu: async () => (await request('cpu')).cpu,
    /** Starts counting the bytes the server allocates (lib/heap-sampling.js); sampleStop() resolves with them. */
    sampleStart: () => request('sampleStart'),
    sampleStop: async () => (await request('sampleStop')).bytes,
    /** Writes a V8 heap snapshot of the server to `file` (for lib/heap-summary.js). */
    heapSnapshot: (file) => request('heapSnapshot', { file }),
    close: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => (clearTimeout(timer), resolve()));
        child.send({ type: 'close' });
      }),
  };
}

module.exports = { startServer };
