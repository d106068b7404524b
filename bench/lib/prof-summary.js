'use strict';
// Prints where a V8 CPU profile (node --cpu-prof) spent its time: self time per function, and
// total (inclusive) time of the functions that matter most. Usage:
//   node bench/lib/prof-summary.js profile.cpuprofile [topN]
const fs = require('fs');
const path = require('path');

const [file, topArg] = process.argv.slice(2);
const top = Number(topArg) || 25;
const profile = JSON.parse(fs.readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children || []) parent.set(c, n.id);

// Sample counts → time: timeDeltas[i] is the time before samples[i].
const selfMs = new Map();
profile.samples.forEach((id, i) => selfMs.set(id, (selfMs.get(id) || 0) + (profile.timeDeltas[i] || 0) / 1000));
const totalMs = [...selfMs.values()].reduce((a, b) => a + b, 0);

const label = (n) => {
  const f = n.callFrame;
  const where = f.url ? `${path.basename(f.url)}:${f.lineNumber + 1}` : '';
  return `${f.functionName || '(anonymous)'} ${where}`.trim();
};

const self = new Map();
const inclusive = new Map();
for (const [id, ms] of selfMs) {
  const key = label(byId.get(id));
  self.set(key, (self.get(key) || 0) + ms);
  // Count each function once per sample even when it recurses.
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const k = label(byId.get(cur));
    if (!seen.has(k)) {
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) || 0) + ms);
    }
  }
}

const show = (title, map) => {
  console.log(`\n${title} (of ${totalMs.toFixed(0)} ms sampled)`);
  for (const [k, ms] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${((100 * ms) / totalMs).toFixed(1).padStart(5)} %  ${ms.toFixed(0).padStart(6)} ms  ${k}`);
  }
};
show('self time', self);
show('inclusive time', inclusive);
