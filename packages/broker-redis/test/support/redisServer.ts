import { describe } from '@jest/globals';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { connect, createServer } from 'node:net';

/** Debian's redis-server, or REDIS_SERVER_PATH. */
export const REDIS_SERVER = process.env.REDIS_SERVER_PATH ?? '/usr/bin/redis-server';

function redisInstalled(): boolean {
  return spawnSync(REDIS_SERVER, ['--version']).status === 0;
}

/**
 * `describe` when redis-server is installed. Without it the suite is skipped with a message, except on CI
 * (CI=true), where it runs and fails, so that a missing Redis never passes silently.
 */
export function describeWithRedis(name: string, fn: () => void): void {
  if (redisInstalled() || process.env.CI === 'true') {
    describe(name, fn);
    return;
  }
  process.stderr.write(`skipping "${name}": redis-server not found at ${REDIS_SERVER} (apt-get install redis-server, or set REDIS_SERVER_PATH)\n`);
  describe.skip(name, fn);
}

/** A redis-server of a test's own: loopback only, a free port (never 6379), no persistence. */
export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** SIGSTOP: Redis stops answering, its sockets stay open. */
  pause(): void;
  /** SIGCONT after pause(). */
  resume(): void;
  /** Kills it and starts an empty one on the same port (a new run id). */
  restartEmpty(): Promise<void>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function launch(port: number): Promise<ChildProcess> {
  if (!redisInstalled()) {
    return Promise.reject(new Error(`redis-server not found at ${REDIS_SERVER}: apt-get install redis-server, or set REDIS_SERVER_PATH`));
  }
  const child = spawn(
    REDIS_SERVER,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes', '--daemonize', 'no', '--loglevel', 'warning', '--always-show-logo', 'no'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return new Promise((resolve, reject) => {
    let output = '';
    const deadline = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`redis-server on port ${port} did not start within 10 s:\n${output}`));
    }, 10_000);
    // Ready once it answers PING on its port (its log level hides the ready line).
    const poll = setInterval(() => {
      void answersPing(port).then((ready) => {
        if (!ready || child.exitCode !== null) return;
        clearTimeout(deadline);
        clearInterval(poll);
        resolve(child);
      });
    }, 20);
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    child.once('exit', (code) => {
      clearTimeout(deadline);
      clearInterval(poll);
      reject(new Error(`redis-server on port ${port} exited with ${code}:\n${output}`));
    });
  });
}

function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let reply = '';
    const done = (ready: boolean) => {
      socket.destroy();
      resolve(ready);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  });
}

/** Starts a redis-server on a free loopback port; retries another port if one was taken meanwhile. */
export async function startRedis(): Promise<RedisServer> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    try {
      let child = await launch(port);
      return {
        port,
        url: `redis://127.0.0.1:${port}`,
        pause: () => child.kill('SIGSTOP'),
        resume: () => child.kill('SIGCONT'),
        async restartEmpty() {
          await stopChild(child);
          child = await launch(port);
        },
        stop: () => stopChild(child),
      };
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}
