import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { RawClient } from './rawClient';

const packages = join(__dirname, '..', '..');
const bin = join(__dirname, '..', 'bin', 'vnf-broker.js');

// CI runs `npm run build` before the tests; locally the bundles may be missing, so build what the CLI loads.
beforeAll(() => {
  for (const dir of ['core', 'registry', 'websocket-hub', 'broker']) {
    const cwd = join(packages, dir);
    if (!existsSync(join(cwd, 'dist', 'index.cjs'))) execFileSync(process.execPath, [join(packages, '..', 'scripts', 'build-package.mjs')], { cwd, stdio: 'ignore' });
  }
}, 120_000);

function run(args: string[]): { child: ReturnType<typeof spawn>; firstLine: Promise<string>; exit: Promise<number | null> } {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const firstLine = new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0]);
    });
    child.once('exit', () => reject(new Error(`exited before printing; stdout ${out}`)));
  });
  firstLine.catch(() => undefined);
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, firstLine, exit };
}

describe('vnf-broker CLI', () => {
  it('--port 0 starts, prints its ws:// URL, serves, and exits 0 on SIGTERM', async () => {
    const { child, firstLine, exit } = run(['--port', '0', '--path', '/cli-test']);
    try {
      const line = await firstLine;
      const url = /(ws:\/\/127\.0\.0\.1:\d+\/cli-test)/.exec(line)?.[1];
      expect(url).toBeDefined();
      const client = await RawClient.connect(url!);
      expect(await client.hello('cli-user')).toMatchObject({ t: 'welcome' });
      const closed = client.closed;
      child.kill('SIGTERM');
      expect(await exit).toBe(0);
      expect(await closed).toBe(1001);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('--help prints usage and exits 0; a bad argument exits 2', async () => {
    const help = run(['--help']);
    expect(await help.firstLine).toMatch(/^Usage: vnf-broker/);
    expect(await help.exit).toBe(0);
    const bad = run(['--port', 'banana']);
    expect(await bad.exit).toBe(2);
  });
});
