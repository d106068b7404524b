// The README's example, taken from README.md as written there and run (its console output collected instead of printed).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as inBrowserHub from '@vnf/in-browser-hub';
import * as multiplexHub from '@vnf/multiplex-hub';
import * as streams from '@vnf/streams';

it('the README example runs as written', async () => {
  const readme = readFileSync(join(__dirname, '../README.md'), 'utf8');
  const code = /## Example\n\n```ts\n([\s\S]*?)```/.exec(readme)![1]!;
  const modules: Record<string, unknown> = { '@vnf/in-browser-hub': inBrowserHub, '@vnf/multiplex-hub': multiplexHub, '@vnf/streams': streams };
  // `import { A, B } from 'x';` becomes `const { A, B } = modules['x'];`, the rest runs as an async function body.
  const body = code.replace(/^import \{([^}]+)\} from '([^']+)';$/gm, (_line, names: string, from: string) => `const {${names}} = modules[${JSON.stringify(from)}];`);
  const lines: unknown[][] = [];
  const console = { info: (...args: unknown[]) => void lines.push(args) };
  const run = new Function('modules', 'console', `return (async () => {\n${body}\n})();`) as (m: typeof modules, c: typeof console) => Promise<void>;
  await run(modules, console);
  const text = lines.map((args) => args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
  expect(text).toContain('alice sends zeros.bin (5242880 bytes) {"note":"hello"}');
  expect(text).toContain('bob has 5242880 of 5242880');
  expect(text.some((line) => /^bob got 5242880 bytes, SHA-256 [0-9a-f]{64}$/.test(line))).toBe(true);
  expect(text.some((line) => /^done \{"bytes":5242880,"sha256":"[0-9a-f]{64}"\}$/.test(line))).toBe(true);
  expect(text).toContain('alice: bob confirmed 5242880 of 5242880');
});
