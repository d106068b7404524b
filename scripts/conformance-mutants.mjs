// Proves the conformance suite can fail: each mutant of scripts/mutants/catalog.cjs breaks one promised rule
// in a copy of the packages, runs the conformance suite it names (only the tests its fragment names, with -t),
// and expects the test named for that rule to fail. First every suite runs unmutated and must pass, so a
// mutant is never "killed" by a test that fails anyway. Exits 1 when a mutant survives or a mutation point is
// gone. Run: `npm run test:mutants` (CI runs it; about two minutes on two cores). `npm run test:mutants -- <fragment>…`
// runs only the mutants whose rule contains one of the fragments (every mutation point is still checked).
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const { suites, mutants: catalog } = createRequire(import.meta.url)('./mutants/catalog.cjs');
const only = process.argv.slice(2);
const mutants = only.length === 0 ? catalog : catalog.filter((m) => only.some((fragment) => m.rule.includes(fragment)));
const loopback = join(root, '../shared/bin/loopback-only');
const PARALLEL = 2;

const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A copy of the sources a mutant may change; node_modules are linked, never copied. */
function makeCopy() {
  const work = mkdtempSync(join(tmpdir(), 'vnf-mutants-'));
  for (const dir of readdirSync(join(root, 'packages'))) {
    const from = join(root, 'packages', dir);
    cpSync(from, join(work, 'packages', dir), {
      recursive: true,
      filter: (p) => !p.startsWith(join(from, 'dist')) && !p.startsWith(join(from, 'node_modules')),
    });
    if (existsSync(join(from, 'node_modules'))) symlinkSync(join(from, 'node_modules'), join(work, 'packages', dir, 'node_modules'));
  }
  symlinkSync(join(root, 'node_modules'), join(work, 'node_modules'));
  cpSync(join(root, 'jest.config.js'), join(work, 'jest.config.js'));
  cpSync(join(root, 'scripts/jest'), join(work, 'scripts/jest'), { recursive: true });
  return work;
}

/** Runs one conformance suite in `cwd`, only the tests matching `pattern`; resolves with the failed test titles. */
function runSuite(cwd, suite, pattern) {
  const jest = ['npx', 'jest', suites[suite], '--json', '-t', pattern, '--testTimeout=30000', '--forceExit'];
  const [command, ...args] = existsSync(loopback) && process.env.VNF_IN_LOOPBACK_NS !== '1' ? [loopback, ...jest] : jest;
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.resume();
    // A mutant that hangs the suite must not hang the run.
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.on('close', () => {
      clearTimeout(timer);
      try {
        const report = JSON.parse(out);
        const failed = report.testResults.flatMap((r) => r.assertionResults.filter((a) => a.status === 'failed').map((a) => a.fullName));
        const crashed = report.testResults.filter((r) => r.status === 'failed' && r.assertionResults.every((a) => a.status !== 'failed'));
        const passed = report.numPassedTests;
        resolve({ failed, crashed: crashed.map((r) => r.message.split('\n').find((line) => line.trim()) ?? 'suite failed'), passed });
      } catch {
        resolve({ failed: [], crashed: ['(no report: the run was killed or jest crashed)'], passed: 0 });
      }
    });
  });
}

// Every mutation point must exist exactly once, or the mutant would test nothing.
let broken = 0;
for (const { rule, file, from } of catalog) {
  const count = readFileSync(join(root, file), 'utf8').split(from).length - 1;
  if (count !== 1) {
    console.log(`?        ${rule}: the mutation point occurs ${count} times in ${file} (update scripts/mutants/catalog.cjs)`);
    broken++;
  }
}
if (broken > 0) process.exit(1);
if (mutants.length === 0) {
  console.log(`No mutant's rule contains ${only.map((f) => JSON.stringify(f)).join(' or ')}.`);
  process.exit(1);
}

const copies = Array.from({ length: PARALLEL }, makeCopy);

// Baseline: the tests each mutant relies on pass on the unmutated copy.
const bySuite = new Map();
for (const m of mutants) bySuite.set(m.suite, [...(bySuite.get(m.suite) ?? []), escape(m.expect)]);
const baselines = await Promise.all(
  [...bySuite].map(async ([suite, fragments], i) => [suite, await runSuite(copies[i % PARALLEL], suite, fragments.join('|'))]),
);
let baselineFailed = false;
for (const [suite, { failed, crashed, passed }] of baselines) {
  if (failed.length || crashed.length || passed === 0) {
    baselineFailed = true;
    console.log(`baseline FAILED for ${suites[suite]}: ${[...failed, ...crashed].join(' | ') || 'no test ran'}`);
  }
}
if (baselineFailed) {
  for (const work of copies) rmSync(work, { recursive: true, force: true });
  process.exit(1);
}

let survived = 0;
const queue = [...mutants];
async function worker(work) {
  for (let m = queue.shift(); m; m = queue.shift()) {
    const path = join(work, m.file);
    const original = readFileSync(path, 'utf8');
    writeFileSync(path, original.replace(m.from, m.to));
    const { failed, crashed } = await runSuite(work, m.suite, escape(m.expect));
    writeFileSync(path, original);
    const named = failed.filter((title) => title.includes(m.expect));
    const caught = named.length > 0 || crashed.length > 0;
    if (!caught) survived++;
    const why = named.length ? named.join(' | ') : crashed.length ? `suite failed: ${crashed.join(' | ')}` : 'no test failed';
    console.log(`${caught ? 'killed  ' : 'SURVIVED'} ${m.rule} [${m.suite}] — ${why}`);
  }
}
await Promise.all(copies.map(worker));
for (const work of copies) rmSync(work, { recursive: true, force: true });
console.log(`\n${mutants.length - survived}/${mutants.length} mutants killed by the test named for their rule.`);
process.exit(survived === 0 ? 0 : 1);
