import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FrameWriter, RecordKind } from '@vnf/protocol';
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

  it('sets every limit from flags and from --config (flags win); the welcome announces them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vnf-cli-'));
    const config = join(dir, 'broker.json');
    writeFileSync(config, JSON.stringify({ port: 0, maxCallsInFlight: 3, maxControlPerSecond: 500, registry: { maxEntriesPerOwner: 5 } }));
    const { child, firstLine, exit } = run(['--config', config, '--max-control-per-second', '700', '--path', '/limits']);
    try {
      const url = /(ws:\/\/127\.0\.0\.1:\d+\/limits)/.exec(await firstLine)?.[1];
      expect(url).toBeDefined();
      const client = await RawClient.connect(url!);
      expect(await client.hello('limited')).toMatchObject({ t: 'welcome', limits: { callsInFlight: 3, controlPerSecond: 700 } });
      const create = (i: number) => ({ t: 'call', id: i + 1, method: 'registry.create', params: { collection: 'c', name: `n${i}`, value: i } });
      // Six calls in one frame: three are handled, three refused at once (maxCallsInFlight 3).
      const writer = new FrameWriter();
      for (let i = 0; i < 6; i++) writer.writeRecord(RecordKind.CONTROL, '', JSON.stringify(create(i)));
      client.ws.send(writer.finish());
      const answers = await client.until(() => {
        const done = client.controls.filter((m) => m.t === 'result' || m.t === 'failure');
        return done.length === 6 ? done : undefined;
      }, 'six answers');
      expect(answers.filter((m) => m.t === 'result')).toHaveLength(3);
      expect(answers.filter((m) => m.t === 'failure').map((m) => (m as { code: string }).code)).toEqual(['RATE_LIMITED', 'RATE_LIMITED', 'RATE_LIMITED']);
      // One at a time, the registry's limit from --config (5 entries an owner) refuses the sixth entry.
      for (const i of [3, 4, 5]) {
        client.sendControl(create(i + 10));
        await client.control((m) => (m.t === 'result' || m.t === 'failure') && (m as { id: number }).id === i + 11);
      }
      const last = client.controls.find((m) => (m as { id?: number }).id === 16);
      expect(last).toMatchObject({ t: 'failure', code: 'TOO_LARGE' });
      child.kill('SIGTERM');
      expect(await exit).toBe(0);
      await client.close();
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses an unknown flag, a bad limit and an unknown --config option with exit code 2 and the reason', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vnf-cli-'));
    const config = join(dir, 'broker.json');
    writeFileSync(config, JSON.stringify({ maxMesageSize: 1 }));
    try {
      for (const args of [['--max-calls-in-flight', '-1'], ['--no-such-limit', '3'], ['--config', config]]) {
        const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
        let err = '';
        child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
        const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
        expect(code).toBe(2);
        expect(err).toMatch(/vnf-broker: .*(whole number|unknown argument|Unknown Broker option "maxMesageSize")/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
