#!/usr/bin/env node
'use strict';
// Runs the built broker (npm run build makes dist/index.cjs).
const path = require('path');
const fs = require('fs');

const built = path.join(__dirname, '..', 'dist', 'index.cjs');
if (!fs.existsSync(built)) {
  process.stderr.write('vnf-broker: dist/index.cjs is missing; run `npm run build` first.\n');
  process.exit(1);
}
require(built)
  .runCli(process.argv.slice(2))
  .then((code) => process.exit(code))
  .catch((err) => {
    process.stderr.write(`vnf-broker: ${err && err.stack ? err.stack : err}\n`);
    process.exit(1);
  });
