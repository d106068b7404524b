// Browser builds of the umbrella `vnf`, straight from the TypeScript sources of every package (no package's
// dist is needed, so it works while the rest of the tree is mid-build):
//   packages/vnf/dist/vnf.browser.mjs  ES module for bundlers, dependencies included
//   packages/vnf/dist/vnf.min.js       minified IIFE for a <script> tag, defines window.Vnf
// Node-only code must stay out: `ws` becomes the browser's WebSocket, @roamhq/wrtc is never bundled,
// `debug` takes its browser entry. The build fails if a Node-only module slips in anyway.
// Usage: node scripts/build-browser.mjs
import { build } from 'esbuild';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
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

const outputs = [
  { ...common, format: 'esm', outfile: join(vnfDir, 'dist/vnf.browser.mjs') },
  { ...common, format: 'iife', globalName: 'Vnf', minify: true, outfile: join(vnfDir, 'dist/vnf.min.js') },
];

function kib(bytes) {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

for (const options of outputs) {
  let result;
  try {
    result = await build(options);
  } catch {
    // esbuild has already printed what failed and where.
    process.exit(1);
  }
  const leaked = Object.keys(result.metafile.inputs).filter((input) => NODE_ONLY.some((re) => re.test(input)));
  if (leaked.length) {
    throw new Error(`Node-only modules in the browser bundle ${relative(root, options.outfile)}: ${leaked.join(', ')}`);
  }
  // Written whole and renamed into place: tests in parallel workers may build and read at the same moment.
  for (const file of result.outputFiles) {
    mkdirSync(dirname(file.path), { recursive: true });
    const partial = `${file.path}.${process.pid}.tmp`;
    writeFileSync(partial, file.contents);
    renameSync(partial, file.path);
  }
  const code = result.outputFiles.find((file) => file.path === options.outfile).contents;
  console.log(
    `built ${relative(root, options.outfile)}: ${kib(code.length)}${options.minify ? ' minified' : ''}, ` +
      `${kib(gzipSync(code, { level: 9 }).length)} gzip`,
  );
}
