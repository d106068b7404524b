// Bundles one package (cwd) into dist/index.cjs and dist/index.mjs with esbuild.
// Dependencies stay external; types come from `tsc -b` (dist/types).
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const common = {
  entryPoints: ['src/index.ts'],
  bundle: true,
  packages: 'external',
  platform: 'neutral',
  target: 'es2020',
  sourcemap: true,
  logLevel: 'warning',
};
await build({ ...common, format: 'cjs', outfile: 'dist/index.cjs' });
await build({ ...common, format: 'esm', outfile: 'dist/index.mjs' });
console.log(`built ${pkg.name}`);
