// examples/resource-lock.js as a user runs it: three processes (`node examples/resource-lock.js <url> <name>`, on
// the built `vnf` package) against one broker; exactly one says it is master; SIGKILL it, and another takes over
// with a higher fencing token. Like examples.test.ts, it needs `npm run build` first: skipped outside CI when the
// packages are not built, failing under CI=true.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Broker } from '@vnf/broker';

const ROOT = join(__dirname, '../../..');
const SCRIPT = join(ROOT, 'examples/resource-lock.js');
const BUILT = ['packages/vnf/dist/index.cjs'].map((file) => join(ROOT, file));
/** The broker's grace: a killed master's entry goes this long after its socket dropped. */
const EVA_GRACE_MS = 300;
const WAIT_MS = 20_000;

interface Run {
  name: string;
  child: ChildProcess;
  lines: string[];
  stderr: string;
  exited: Promise<void>;
}

const MASTER = /^(\S+) is master \(fencing token (\d+)\)$/;

const built = BUILT.every((file) => existsSync(file));
if (!built && process.env.CI !== 'true') {
  process.stderr.write('skipping examples/resource-lock.js: run `npm run build` first (it requires the built packages)\n');
}

(built || process.env.CI === 'true' ? describe : describe.skip)('examples/resource-lock.js', () => {
  let broker: Broker | null = null;
  const runs: Run[] = [];
  /** Every "is master" line, in the order they were printed. */
  const masterLines: Array<{ name: string; token: number }> = [];
  /** Called on every line any process prints: waits re-check their condition. */
  let changed: () => void = () => undefined;

  beforeAll(() => {
    for (const file of BUILT) if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\` first`);
    const check = "process.exit(typeof require('vnf').Lock === 'function' ? 0 : 1)";
    if (spawnSync(process.execPath, ['-e', check], { cwd: ROOT }).status !== 0) throw new Error('the built vnf package has no Lock: run `npm run build` again');
  });

  afterAll(async () => {
    for (const run of runs) run.child.kill('SIGKILL');
    await Promise.all(runs.map((run) => run.exited));
    await broker?.close();
  });

  function start(url: string, name: string): Run {
    const child = spawn(process.execPath, [SCRIPT, url, name], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const run: Run = { name, child, lines: [], stderr: '', exited: new Promise((resolve) => child.once('exit', () => resolve())) };
    let partial = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      const text = partial + chunk.toString();
      const lines = text.split('\n');
      partial = lines.pop()!;
      run.lines.push(...lines);
      for (const line of lines) {
        const match = MASTER.exec(line);
        if (match) masterLines.push({ name: match[1]!, token: Number(match[2]) });
      }
      changed();
    });
    child.stderr!.on('data', (chunk: Buffer) => (run.stderr += chunk.toString()));
    child.once('exit', () => changed());
    runs.push(run);
    return run;
  }

  /** Resolves once `check` holds (checked on every printed line); rejects after WAIT_MS with what every process printed. */
  function until(what: string, check: () => boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        changed = () => undefined;
        reject(new Error(`${what}: not within ${WAIT_MS} ms. Output:\n${runs.map((r) => `${r.name}: ${JSON.stringify(r.lines)} ${r.stderr}`).join('\n')}`));
      }, WAIT_MS);
      changed = () => {
        if (!check()) return;
        clearTimeout(timer);
        changed = () => undefined;
        resolve();
      };
      changed();
    });
  }

  const masters = (): Array<{ name: string; token: number }> => [...masterLines];

  it('one process is master; when it is killed, another takes over with a higher fencing token', async () => {
    broker = new Broker({ evaGraceMs: EVA_GRACE_MS });
    const { url } = await broker.listen({ port: 0, host: '127.0.0.1' });
    for (const name of ['alpha', 'beta', 'gamma']) start(url, name);
    // Every process waits for the lock, and exactly one of them gets it.
    await until('three processes waiting and one master', () => runs.every((run) => run.lines.some((line) => / waits for the lock /.test(line))) && masters().length >= 1);
    expect(masters()).toHaveLength(1);
    const [first] = masters();
    const master = runs.find((run) => run.name === first!.name)!;

    master.child.kill('SIGKILL');
    await master.exited;
    await until('another master after the kill', () => masters().length >= 2);
    const [, second] = masters();
    expect(masters()).toHaveLength(2);
    expect(second!.name).not.toBe(first!.name);
    expect(second!.token).toBeGreaterThan(first!.token);
    for (const run of runs) expect(run.stderr).toBe('');
  }, 60_000);
});
