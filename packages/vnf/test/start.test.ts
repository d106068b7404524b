// `npm start` as a user or a process manager runs it: SIGINT or SIGTERM to the npm process must stop the chat
// server too, freeing its port and leaving no process behind (npm runs the script through /bin/sh, which may fork).
// Needs the built packages (the server requires `@vnf/broker` and serves `vnf.min.js`), like examples.test.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';

const ROOT = join(__dirname, '../../..');
const BUILT = join(ROOT, 'packages/broker/dist/index.cjs');
const WAIT_MS = 30_000;

/** Polls `check` every 20 ms until it returns true; rejects with `what` after `timeoutMs`. */
async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Child pids of `pid` (Linux), or [] once it is gone. */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function descendantsOf(pid: number): number[] {
  return childrenOf(pid).flatMap((child) => [child, ...descendantsOf(child)]);
}

/** Alive and not a zombie waiting to be reaped. */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '?';
  }
}

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

/** Resolves true when something can listen on the port again, false while it is taken. */
function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

const built = existsSync(BUILT);
if (!built && process.env.CI !== 'true') {
  process.stderr.write('skipping npm start: run `npm run build` first (the chat server requires the built packages)\n');
}
const onLinux = existsSync('/proc/self/task');

(built || process.env.CI === 'true' ? describe : describe.skip)('npm start', () => {
  let npm: ChildProcess | null = null;
  let started: number[] = [];

  afterEach(async () => {
    // Whatever a failing run left behind, all of it started by this test: what runs under npm, by pid, then npm.
    const left = [...new Set([...(npm?.pid ? descendantsOf(npm.pid) : []), ...started])].filter(isRunning);
    for (const pid of left.reverse()) process.kill(pid, 'SIGKILL');
    if (npm && npm.exitCode === null && npm.signalCode === null) {
      const exited = new Promise((resolve) => npm!.once('exit', resolve));
      npm.kill('SIGKILL');
      await exited;
    }
    npm?.stdout?.destroy();
    npm?.stderr?.destroy();
    npm = null;
    started = [];
  });

  (onLinux ? it.each(['SIGTERM', 'SIGINT'] as const) : it.skip.each(['SIGTERM', 'SIGINT'] as const))(
    '%s to the npm process stops the server: the port is free and no child process remains',
    async (signal) => {
      const child = spawn('npm', ['start'], {
        cwd: ROOT,
        env: { ...process.env, PORT: '0', HOST: '127.0.0.1', npm_config_update_notifier: 'false' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      npm = child;
      let output = '';
      child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
      child.once('exit', (code, sig) => (exit = { code, signal: sig }));

      // server.js prints its URL once it listens (PORT=0: a free port).
      await until(() => /open (http:\/\/\S+\/) in/.test(output) || child.exitCode !== null, 'the URL from npm start').catch((err) => {
        throw new Error(`${err.message}; output so far:\n${output}`);
      });
      const match = /open (http:\/\/\S+\/) in/.exec(output);
      if (!match) throw new Error(`npm start exited (${child.exitCode}) before serving:\n${output}`);
      const url = match[1];
      const port = Number(new URL(url).port);
      const page = await get(url);
      expect(page.status).toBe(200);
      expect(page.body).toContain('VNF chat');

      // Every process under npm (sh, if it forked, and node), recorded before the signal.
      started = descendantsOf(child.pid!);
      expect(started.length).toBeGreaterThan(0);
      expect(started.map(commandOf).some((command) => command.includes('examples/chat/server.js'))).toBe(true);
      expect(await portIsFree(port)).toBe(false);

      child.kill(signal);
      await until(() => exit !== null, `npm to exit after ${signal}`, 10_000).catch(() => {
        const left = started.filter(isRunning).map((pid) => `${pid} ${commandOf(pid)}`);
        throw new Error(`npm start did not exit within 10 s of ${signal}; running under it: ${left.join('; ')}`);
      });
      await until(() => started.every((pid) => !isRunning(pid)), 'the processes under npm to end', 10_000).catch(() => {
        const left = started.filter(isRunning).map((pid) => `${pid} ${commandOf(pid)}`);
        throw new Error(`${signal} to npm start left running: ${left.join('; ')}`);
      });
      await until(() => portIsFree(port), `port ${port} to be free`, 10_000);
    },
    60_000,
  );
});
