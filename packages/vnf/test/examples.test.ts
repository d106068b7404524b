// The runnable examples (examples/seeds/*.js, examples/chaos-testing.js) as a user runs them: `node <script>`,
// requiring the built `vnf` and `@vnf/broker` packages (CI runs `npm run build` first). RTC ones need the
// loopback-only namespace that the test run is in.
import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '../../..');
const SEEDS = join(ROOT, 'examples/seeds');
const BUILT = ['packages/vnf/dist/index.cjs', 'packages/broker/dist/index.cjs'].map((file) => join(ROOT, file));

function run(script: string, args: string[] = [], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [script, ...args], { cwd: ROOT, timeout: 90_000, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

const HANDSHAKE = [
  'Endpoint-1 established connection to endpoint2-name, status is: CONNECTED',
  'Endpoint-2 got a message from endpoint endpoint1-name, message is: How are you?',
  'Endpoint-1 got a message from endpoint endpoint2-name, message is: I am good!',
  'Endpoint 1 is closing connection to endpoint2-name',
  'Endpoint-2 lost connection to endpoint1-name, releasing endpoints',
];

const built = BUILT.every((file) => existsSync(file));
if (!built && process.env.CI !== 'true') {
  process.stderr.write('skipping the examples: run `npm run build` first (they require the built packages)\n');
}

(built || process.env.CI === 'true' ? describe : describe.skip)('examples run with one command each', () => {
  beforeAll(() => {
    for (const file of BUILT) if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\` first`);
  });

  const seeds = readdirSync(SEEDS).filter((file) => /^\d\d-.*\.js$/.test(file));

  it('has a script for every seed snippet', () => {
    expect(seeds).toHaveLength(9);
  });

  it.each(seeds)('node examples/seeds/%s', async (file) => {
    const { code, stdout, stderr } = await run(join(SEEDS, file));
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const lines = stdout.trim().split('\n');
    if (/registry/.test(file)) expect(lines).toEqual(['The entry was created and read back.']);
    else expect(lines).toEqual(HANDSHAKE);
  }, 120_000);

  it('chaos-testing: the correct client and server pass under a random seed', async () => {
    const { code, stdout, stderr } = await run(join(ROOT, 'examples/chaos-testing.js'));
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toMatch(/^ok: 40 calls counted exactly once \(chaos seed \d+;/);
  }, 120_000);

  it('chaos-testing: the buggy server fails, and its printed seed replays the very same failure', async () => {
    const seed = '3983750892';
    const first = await run(join(ROOT, 'examples/chaos-testing.js'), ['--buggy'], { CHAOS_SEED: seed });
    expect(first.code).toBe(1);
    expect(first.stderr).toContain(`Replay exactly this run with: CHAOS_SEED=${seed} node examples/chaos-testing.js --buggy`);
    const replay = await run(join(ROOT, 'examples/chaos-testing.js'), ['--buggy'], { CHAOS_SEED: seed });
    expect(replay).toEqual(first);
  }, 120_000);

  it('the WebSocket seed scripts run against a broker started with the vnf-broker CLI', async () => {
    const cli = spawn(process.execPath, [join(ROOT, 'packages/broker/bin/vnf-broker.js'), '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('vnf-broker printed no URL within 20 s')), 20_000);
        let out = '';
        cli.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          const match = /listening on (ws:\/\/\S+)/.exec(out);
          if (match) {
            clearTimeout(timer);
            resolve(match[1]);
          }
        });
      });
      for (const file of ['02-websocket-hub.js', '03-websocket-factory.js', '07-websocket-registry.js', '08-registry-over-endpoint.js']) {
        const { code, stdout, stderr } = await run(join(SEEDS, file), [], { VNF_BROKER_URL: url });
        expect({ file, code, stderr }).toEqual({ file, code: 0, stderr: '' });
        expect(stdout.trim().split('\n')).toEqual(/registry/.test(file) ? ['The entry was created and read back.'] : HANDSHAKE);
      }
    } finally {
      const exited = new Promise((resolve) => cli.once('exit', resolve));
      cli.kill('SIGTERM');
      await exited;
    }
  }, 180_000);
});
