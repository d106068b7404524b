'use strict';
// Forks lib/client-host.js (or another host file, `options.host`): one client in its own process, driven over IPC.
const { fork } = require('child_process');
const path = require('path');

async function startClient(name, { host = path.join(__dirname, 'client-host.js') } = {}) {
  const child = fork(host, [], {
    execArgv: ['--expose-gc', ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(process.env.BENCH_CPU_PROF)}`, `--cpu-prof-name=client-${name}-${process.pid}-${Date.now()}.cpuprofile`] : [])],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`client ${name} exited with ${code} before it was ready`)));
  });
  let nextId = 0;
  const waiting = new Map();
  child.on('message', (msg) => {
    const pending = waiting.get(msg.id);
    if (!pending) return;
    waiting.delete(msg.id);
    if (msg.ok) pending.resolve(msg);
    else pending.reject(new Error(`client ${name}: ${msg.error}`));
  });
  const request = (type, extra = {}) =>
    new Promise((resolve, reject) => {
      const id = ++nextId;
      waiting.set(id, { resolve, reject });
      child.send({ ...extra, type, id });
    });
  return {
    pid: child.pid,
    request,
    cpu: async () => (await request('cpu')).cpu,
    close: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => (clearTimeout(timer), resolve()));
        request('close').catch(() => {});
      }),
  };
}

module.exports = { startClient };
