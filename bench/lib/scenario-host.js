'use strict';
// Runs one scenario in its own process, so each starts with a clean heap and JIT state and a crash
// or leak in one cannot spoil the next. The result goes to the file run.js named (a file, not IPC,
// so the loopback-only namespace wrapper cannot get in the way).
require('./register');
const fs = require('fs');

const [file, resultFile] = process.argv.slice(2);
const quick = process.env.BENCH_QUICK === '1';

async function main() {
  let result;
  try {
    result = await require(file).run({ quick, log: (...args) => console.error('   ', ...args) });
  } catch (err) {
    result = { error: String((err && err.stack) || err), notAvailable: Boolean(err && err.notAvailable), reason: err && err.message };
  }
  fs.writeFileSync(resultFile, JSON.stringify(result, null, 2));
  // Scenarios close what they open; exiting here keeps a forgotten handle from stalling the run.
  process.exit(0);
}

main();
