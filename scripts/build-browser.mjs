// Browser builds of the umbrella `vnf`, straight from the TypeScript sources of every package (no package's
// dist is needed, so it works while the rest of the tree is mid-build):
//   packages/vnf/dist/vnf.browser.mjs  ES module for bundlers, dependencies included
//   packages/vnf/dist/vnf.min.js       minified IIFE for a <script> tag, defines window.Vnf
// Node-only code must stay out: `ws` becomes the browser's WebSocket, @roamhq/wrtc is never bundled,
// `debug` takes its browser entry. The build fails if a Node-only module slips in anyway.
// It then writes the bundles' sizes into README.md, between <!-- sizes:start --> and <!-- sizes:end -->
// (not on CI, CI=true, nor with --no-readme: there packages/vnf/test/readmeSizes.test.ts checks what was committed).
// Usage: node scripts/build-browser.mjs [--no-readme]
// As a module: buildBrowserBundles() builds in memory, sizesText() renders the README figures (the test uses both).
import { build } from 'esbuild';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const vnfDir = join(root, 'packages/vnf');
const shims = join(vnfDir, 'browser-shims');

// Several copies of one library may be installed (nested node_modules); the bundle carries one of each.
const fromPackage = (pkgDir, id) => createRequire(join(root, pkgDir, 'package.json')).resolve(id);
const SINGLE_COPY = {
  buffer: fromPackage('node_modules/simple-peer', 'buffer/'),
  eventemitter3: fromPackage('packages/core', 'eventemitter3'),
};

// Modules that must never reach a browser bundle (matched against the bundle's input paths).
const NODE_ONLY = [/node_modules\/ws\//, /node_modules\/@roamhq\/wrtc\//, /node_modules\/debug\/src\/node\.js$/];

/**
 * @vnf/<dir> → packages/<dir>/src/index.ts; `ws` → the browser WebSocket; `events` → a small shim;
 * one copy of each SINGLE_COPY library.
 */
const resolveForBrowser = {
  name: 'vnf-browser-resolve',
  setup(b) {
    b.onResolve({ filter: /^@vnf\/[^/]+$/ }, (args) => {
      if (b.initialOptions.define?.[WITHOUT_SECURE_HUB] && args.path === '@vnf/secure-hub') return { path: args.path, namespace: 'vnf-empty' };
      const file = join(root, 'packages', args.path.slice('@vnf/'.length), 'src/index.ts');
      if (!existsSync(file)) return { errors: [{ text: `${args.path} has no src/index.ts yet (${relative(root, file)})` }] };
      return { path: file };
    });
    b.onResolve({ filter: /^ws$/ }, (args) => b.resolve('isomorphic-ws', { kind: args.kind, resolveDir: args.resolveDir }));
    b.onResolve({ filter: /^(buffer|eventemitter3)\/?$/ }, (args) => ({ path: SINGLE_COPY[args.path.replace(/\/$/, '')] }));
    b.onResolve({ filter: /^events$/ }, () => ({ path: join(shims, 'events.js') }));
    // rtc-hub loads it lazily in Node only; should any import name it, the browser gets nothing instead.
    b.onResolve({ filter: /^@roamhq\/wrtc$/ }, () => ({ path: '@roamhq/wrtc', namespace: 'vnf-empty' }));
    b.onLoad({ filter: /.*/, namespace: 'vnf-empty' }, () => ({ contents: 'module.exports = {};', loader: 'js' }));
  },
};

const common = {
  // Paths in the output (the ES build's module comments, source maps) are relative to this: the same bundle,
  // and the same sizes, whichever directory the build runs from (lerna runs it from packages/vnf).
  absWorkingDir: root,
  entryPoints: [join(vnfDir, 'src/index.ts')],
  bundle: true,
  platform: 'browser',
  target: ['es2020', 'chrome90', 'firefox90', 'safari15'],
  mainFields: ['browser', 'module', 'main'],
  conditions: ['browser'],
  inject: [join(shims, 'process.js')],
  define: { global: 'globalThis', 'process.env.NODE_ENV': '"production"' },
  plugins: [resolveForBrowser],
  sourcemap: true,
  metafile: true,
  write: false,
  legalComments: 'none',
  logLevel: 'warning',
};

// A build flag only (never read by code): the variant that measures what SecureHub adds resolves it to nothing.
const WITHOUT_SECURE_HUB = 'VNF_BUILD_WITHOUT_SECURE_HUB';

const outputs = [
  { ...common, format: 'esm', outfile: join(vnfDir, 'dist/vnf.browser.mjs') },
  { ...common, format: 'iife', globalName: 'Vnf', minify: true, outfile: join(vnfDir, 'dist/vnf.min.js') },
];

export const README = join(root, 'README.md');
export const SIZES_START = '<!-- sizes:start -->';
export const SIZES_END = '<!-- sizes:end -->';

function kib(bytes) {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

/**
 * Builds both browser bundles in memory (nothing is written). Each comes with its sizes: `bytes`, `gzipBytes`
 * (node:zlib level 9) and, from esbuild's metafile, how much of it is third-party code (`thirdPartyBytes`).
 * Rejects when esbuild fails or a Node-only module reached a bundle.
 */
export async function buildBrowserBundles() {
  const bundles = [];
  for (const options of outputs) {
    const result = await build(options);
    const leaked = Object.keys(result.metafile.inputs).filter((input) => NODE_ONLY.some((re) => re.test(input)));
    if (leaked.length) {
      throw new Error(`Node-only modules in the browser bundle ${relative(root, options.outfile)}: ${leaked.join(', ')}`);
    }
    const code = result.outputFiles.find((file) => file.path === options.outfile).contents;
    // One entry point per build: the output that has it is the bundle (the other one is its source map).
    const output = Object.values(result.metafile.outputs).find((out) => out.entryPoint);
    const thirdPartyBytes = Object.entries(output.inputs)
      .filter(([input]) => input.includes('node_modules/'))
      .reduce((sum, [, input]) => sum + input.bytesInOutput, 0);
    bundles.push({
      file: relative(root, options.outfile).split('\\').join('/'),
      minified: Boolean(options.minify),
      bytes: code.length,
      gzipBytes: gzipSync(code, { level: 9 }).length,
      thirdPartyBytes,
      outputFiles: result.outputFiles,
    });
  }
  // What SecureHub (with its noble primitives) adds to the minified bundle: the same build with it left out.
  const min = bundles.find((bundle) => bundle.minified);
  const minOptions = outputs.find((options) => options.minify);
  const without = await build({ ...minOptions, sourcemap: false, define: { ...minOptions.define, [WITHOUT_SECURE_HUB]: 'true' } });
  const withoutCode = without.outputFiles.find((file) => file.path === minOptions.outfile).contents;
  min.secureHubGzipBytes = min.gzipBytes - gzipSync(withoutCode, { level: 9 }).length;
  min.secureHubBytes = min.bytes - withoutCode.length;
  return bundles;
}

/** The README's figures for these bundles: the text between SIZES_START and SIZES_END. */
export function sizesText(bundles) {
  const min = bundles.find((bundle) => bundle.file.endsWith('vnf.min.js'));
  const esm = bundles.find((bundle) => bundle.file.endsWith('vnf.browser.mjs'));
  return (
    `\`vnf.min.js\` is ${kib(min.bytes)} minified, ${kib(min.gzipBytes)} gzip (${kib(min.thirdPartyBytes)} of it third-party, ` +
    `mostly simple-peer with \`buffer\` and \`readable-stream\`; \`SecureHub\` with its noble primitives adds ` +
    `${kib(min.secureHubBytes)} minified, ${kib(min.secureHubGzipBytes)} gzip); \`vnf.browser.mjs\` is ${kib(esm.bytes)} unminified, ` +
    `${kib(esm.gzipBytes)} gzip (gzip: node:zlib level 9; \`npm run build\` keeps these figures up to date).`
  );
}

/** `readme` with `text` between the size markers; throws when the markers are missing. */
export function withSizes(readme, text) {
  const start = readme.indexOf(SIZES_START);
  const end = readme.indexOf(SIZES_END, start);
  if (start < 0 || end < 0) throw new Error(`README.md has no ${SIZES_START} … ${SIZES_END} markers for the bundle sizes`);
  return `${readme.slice(0, start + SIZES_START.length)}\n${text}\n${readme.slice(end)}`;
}

/** Written whole and renamed into place: tests in parallel workers may build and read at the same moment. */
function writeAtomically(path, contents) {
  mkdirSync(dirname(path), { recursive: true });
  const partial = `${path}.${process.pid}.tmp`;
  writeFileSync(partial, contents);
  renameSync(partial, path);
}

async function main() {
  let bundles;
  try {
    bundles = await buildBrowserBundles();
  } catch (err) {
    // esbuild has already printed what failed and where; anything else is said here.
    if (!err?.errors) console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  }
  for (const bundle of bundles) {
    for (const file of bundle.outputFiles) writeAtomically(file.path, file.contents);
    console.log(`built ${bundle.file}: ${kib(bundle.bytes)}${bundle.minified ? ' minified' : ''}, ${kib(bundle.gzipBytes)} gzip`);
  }
  if (process.argv.includes('--no-readme') || process.env.CI === 'true') return;
  const readme = readFileSync(README, 'utf8');
  const updated = withSizes(readme, sizesText(bundles));
  if (updated !== readme) {
    writeAtomically(README, updated);
    console.log(`updated the bundle sizes in ${relative(root, README)}`);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
