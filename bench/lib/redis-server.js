'use strict';
// A redis-server of the bench's own: a free port on 127.0.0.1 (never 6379), no persistence
// (`--save '' --appendonly no`), stopped by `close()` (and killed if the bench process exits first).
// Besides the URL it reads Redis's own counters over a connection of its own: its CPU (`INFO cpu`),
// its memory (`INFO memory`) and per-command call counts and times (`INFO commandstats`, reset with
// `CONFIG RESETSTAT`), so a scenario can say how many Redis commands a relayed message cost.
const { spawn } = require('child_process');
const net = require('net');
const { sleep } = require('./measure');

const REDIS_SERVER = process.env.BENCH_REDIS_SERVER || '/usr/bin/redis-server';

/** A port nobody listens on at 127.0.0.1 right now (other than 6379). */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => (port === 6379 ? freePort().then(resolve, reject) : resolve(port)));
    });
  });
}

/** `INFO` text → { field: value } (numbers where they parse). */
function parseInfo(text) {
  const out = {};
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i <= 0 || line.startsWith('#')) continue;
    const value = line.slice(i + 1);
    out[line.slice(0, i)] = Number.isFinite(Number(value)) && value !== '' ? Number(value) : value;
  }
  return out;
}

/** `INFO commandstats` → { xadd: { calls, usec }, … }. */
function parseCommandStats(text) {
  const out = {};
  for (const [key, value] of Object.entries(parseInfo(text))) {
    if (!key.startsWith('cmdstat_')) continue;
    const fields = Object.fromEntries(String(value).split(',').map((kv) => kv.split('=')));
    out[key.slice('cmdstat_'.length)] = { calls: Number(fields.calls), usec: Number(fields.usec) };
  }
  return out;
}

async function startRedis() {
  const { default: Redis } = require('ioredis');
  let lastError = null;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const child = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(`${signal || code}`)));
    child.once('error', (err) => (lastError = err));
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    const url = `redis://127.0.0.1:${port}`;
    const admin = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null, connectionName: 'bench-admin' });
    admin.on('error', () => {});
    // Up once it answers PING (a few ms); gone if the process exited (the port was taken meanwhile).
    const up = await Promise.race([
      (async () => {
        for (let i = 0; i < 100; i++) {
          if (child.exitCode !== null || lastError) return false;
          try {
            await admin.connect();
            await admin.ping();
            return true;
          } catch {
            admin.disconnect();
            await sleep(50);
          }
        }
        return false;
      })(),
      exited.then(() => false),
    ]);
    if (!up) {
      admin.disconnect();
      child.kill('SIGKILL');
      process.removeListener('exit', killOnExit);
      lastError = lastError || new Error(`redis-server on port ${port} did not come up: ${output.trim().split('\n').pop()}`);
      continue;
    }
    const info = async (section) => parseInfo(await admin.info(section));
    return {
      url,
      port,
      pid: child.pid,
      version: (await info('server')).redis_version,
      /** Redis's CPU so far, µs (user + system, from `INFO cpu`). */
      cpuUs: async () => {
        const c = await info('cpu');
        return Math.round((c.used_cpu_user + c.used_cpu_sys) * 1e6);
      },
      /** `INFO memory`: used_memory, used_memory_rss, used_memory_peak … (bytes). */
      memory: () => info('memory'),
      /** Zeroes the command statistics (and the peak memory) Redis keeps. */
      resetStats: () => admin.config('RESETSTAT'),
      commandStats: async () => parseCommandStats(await admin.info('commandstats')),
      /** Number of keys whose name starts with `prefix`, and the entries of the streams among them. */
      async keys(prefix) {
        const keys = [];
        let cursor = '0';
        do {
          const [next, batch] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
          cursor = next;
          keys.push(...batch);
        } while (cursor !== '0');
        let streamEntries = 0;
        for (const key of keys) if ((await admin.type(key)) === 'stream') streamEntries += await admin.xlen(key);
        return { keys: keys.length, streamEntries };
      },
      close: async () => {
        admin.disconnect();
        if (child.exitCode === null) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
          await exited;
          clearTimeout(timer);
        }
        process.removeListener('exit', killOnExit);
      },
    };
  }
  const err = new Error(`redis-server not available: ${lastError ? lastError.message : 'did not start'}`);
  err.notAvailable = true;
  throw err;
}

module.exports = { startRedis, parseInfo };
