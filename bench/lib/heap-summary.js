'use strict';
// What grew between two V8 heap snapshots, by object kind, per unit (e.g. per endpoint):
//   node bench/lib/heap-summary.js before.heapsnapshot after.heapsnapshot [units] [topN]
// (idle-memory writes such pairs with BENCH_HEAP_SNAPSHOT=dir.)
const fs = require('fs');

function aggregate(file) {
  const snap = JSON.parse(fs.readFileSync(file, 'utf8'));
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
  const totals = new Map();
  const nodes = snap.nodes;
  for (let i = 0; i < nodes.length; i += fields.length) {
    const type = types[nodes[i + typeAt]];
    // Strings and code are grouped by type; objects by constructor name.
    const name = type === 'object' || type === 'native' || type === 'closure' ? snap.strings[nodes[i + nameAt]] : '';
    const key = `${type}${name ? ` ${name.slice(0, 60)}` : ''}`;
    const t = totals.get(key) || { count: 0, size: 0 };
    t.count++;
    t.size += nodes[i + sizeAt];
    totals.set(key, t);
  }
  return totals;
}

const [beforeFile, afterFile, unitsArg, topArg] = process.argv.slice(2);
const units = Number(unitsArg) || 1;
const top = Number(topArg) || 25;
const before = aggregate(beforeFile);
const after = aggregate(afterFile);
const rows = [];
let total = 0;
for (const [key, a] of after) {
  const b = before.get(key) || { count: 0, size: 0 };
  const size = (a.size - b.size) / units;
  total += size;
  rows.push({ key, size, count: (a.count - b.count) / units });
}
rows.sort((x, y) => y.size - x.size);
console.log(`heap growth per unit: ${total.toFixed(0)} B (${units} units)`);
for (const r of rows.slice(0, top)) console.log(`${r.size.toFixed(0).padStart(7)} B  ${r.count.toFixed(2).padStart(6)}×  ${r.key}`);
