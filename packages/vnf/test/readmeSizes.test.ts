// The bundle sizes in README.md are the sizes of today's bundles: scripts/build-browser.mjs writes them between
// <!-- sizes:start --> and <!-- sizes:end --> when it builds (not on CI); this test builds the bundles in memory with
// the same code (buildBrowserBundles, sizesText) and compares. The build script is an ES module, which jest's
// CommonJS runtime here cannot import, so it runs in a child node.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = join(__dirname, '../../..');
const BUILD_SCRIPT = join(ROOT, 'scripts/build-browser.mjs');
const README = join(ROOT, 'README.md');

/** What build-browser.mjs would write into README.md for the bundles the sources make now. */
function expectedSizesText(): Promise<string> {
  const program = [
    `const { buildBrowserBundles, sizesText } = await import(${JSON.stringify(pathToFileURL(BUILD_SCRIPT).href)});`,
    'process.stdout.write(JSON.stringify(sizesText(await buildBrowserBundles())));',
  ].join('\n');
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', program], { cwd: ROOT, timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`building the browser bundles in memory failed: ${err.message}\n${stderr}`));
      else resolve(JSON.parse(stdout) as string);
    });
  });
}

/** The text between the size markers of README.md, or null without them. */
function readmeSizesText(readme: string): string | null {
  const match = /<!-- sizes:start -->\n([\s\S]*?)\n<!-- sizes:end -->/.exec(readme);
  return match ? match[1] : null;
}

describe('README.md bundle sizes', () => {
  it('match the bundles built from the sources now', async () => {
    const expected = await expectedSizesText();
    expect(expected).toMatch(/^`vnf\.min\.js` is \d+\.\d KiB minified, \d+\.\d KiB gzip .*`SecureHub` with its noble primitives adds \d+\.\d KiB minified, [1-9]\d*\.\d KiB gzip.*`vnf\.browser\.mjs` is \d+\.\d KiB unminified/);
    const actual = readmeSizesText(readFileSync(README, 'utf8'));
    if (actual !== expected) {
      throw new Error(
        'README.md states other bundle sizes than the build makes: run npm run build and commit README.md.\n' +
          `README.md says: ${actual ?? '(no <!-- sizes:start --> … <!-- sizes:end --> markers)'}\n` +
          `the build says: ${expected}`,
      );
    }
  }, 150_000);
});
