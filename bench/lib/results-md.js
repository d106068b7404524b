'use strict';
// Prints the measured part of RESULTS.md (run facts, versions, table) from bench/results/latest.json,
// so the document carries exactly what the run wrote. The analysis is written by hand below it.
const path = require('path');
const { meta, markdown } = require(path.join(__dirname, '../results/latest.json'));

const versions = Object.entries(meta.versions)
  .map(([name, version]) => `${name} ${version}`)
  .join(', ');
console.log(`- Date: ${meta.date} (commit ${meta.commit} plus the working tree; VNF loaded from ${meta.from})`);
console.log(`- Machine: ${meta.nproc} cores (\`nproc\`), CPU "${meta.cpu}", ${meta.memoryGiB} GiB memory, load average at start ${meta.loadavg.join(' / ')}`);
console.log(`- Node ${meta.node}${meta.quick ? ' — QUICK SMOKE RUN, figures not meaningful' : ''}`);
console.log(`- Versions: ${versions}`);
console.log('');
console.log(markdown);
