// The mutant catalog stays armed: every mutation point still occurs exactly once in its file, and every
// mutant names a suite and a test that exist. (The mutants themselves run in `npm run test:mutants`, in CI.)
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '../../..');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { suites, mutants } = require(join(root, 'scripts/mutants/catalog.cjs')) as {
  suites: Record<string, string>;
  mutants: { rule: string; file: string; from: string; to: string; suite: string; expect: string }[];
};
// Every shared suite (hubConformance, subProtocolConformance, …): a mutant's test may live in any of them.
const conformanceDir = join(root, 'packages/conformance/src');
const conformanceSource = readdirSync(conformanceDir)
  .filter((file) => file.endsWith('Conformance.ts'))
  .map((file) => readFileSync(join(conformanceDir, file), 'utf8'))
  .join('\n');

describe('the conformance mutants (scripts/mutants/catalog.cjs)', () => {
  it.each(mutants.map((m) => [m.rule, m] as const))('%s: its mutation point occurs exactly once, and its suite and test exist', (_rule, m) => {
    const source = readFileSync(join(root, m.file), 'utf8');
    expect(source.split(m.from).length - 1).toBe(1);
    expect(m.to).not.toBe(m.from);
    expect(suites[m.suite]).toBeDefined();
    expect(readFileSync(join(root, suites[m.suite]), 'utf8')).toMatch(/\w+Conformance\(/);
    expect(conformanceSource).toContain(m.expect.replace(/\($/, ''));
  });

  it('has a distinct rule name for each mutant', () => {
    expect(new Set(mutants.map((m) => m.rule)).size).toBe(mutants.length);
  });
});
