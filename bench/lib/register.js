'use strict';
// Lets the benchmarks `require('@vnf/x')` straight from packages/x/src/*.ts, as the tests do (jest maps
// @vnf/* to sources too). No build step is needed on a fresh clone, and the numbers always describe
// the working tree, never a stale dist. BENCH_FROM=dist switches to the built packages/*/dist instead.
const fs = require('fs');
const path = require('path');
const Module = require('module');

const packagesDir = path.resolve(__dirname, '../../packages');
const fromDist = process.env.BENCH_FROM === 'dist';

if (!fromDist && !Module._extensions['.ts']) {
  const swc = require('@swc/core');
  const options = {
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'commonjs' },
    sourceMaps: 'inline',
  };
  Module._extensions['.ts'] = function compileTs(module, filename) {
    const source = fs.readFileSync(filename, 'utf8');
    const { code } = swc.transformSync(source, { ...options, filename });
    module._compile(code, filename);
  };

  const resolve = Module._resolveFilename;
  Module._resolveFilename = function resolveVnf(request, parent, ...rest) {
    const match = /^(?:@vnf\/([^/]+)|(vnf))$/.exec(request);
    if (match) {
      const entry = path.join(packagesDir, match[1] || match[2], 'src/index.ts');
      if (fs.existsSync(entry)) return entry;
    }
    return resolve.call(this, request, parent, ...rest);
  };
}
