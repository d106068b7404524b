'use strict';
// Formats result rows as a plain-text table (stdout) and as Markdown (RESULTS.md).

const SI = [
  [1e9, 'G'],
  [1e6, 'M'],
  [1e3, 'k'],
];

function formatValue(value, unit) {
  if (value === null || value === undefined) return 'n/a';
  if (typeof value !== 'number' || !Number.isFinite(value)) return String(value);
  if (unit === 'B' || unit === 'B/endpoint') {
    const abs = Math.abs(value);
    const suffix = unit === 'B' ? '' : '/ep';
    if (abs >= 1024 ** 2) return `${(value / 1024 ** 2).toFixed(1)} MiB${suffix}`;
    if (abs >= 1024) return `${(value / 1024).toFixed(2)} KiB${suffix}`;
    return `${value.toFixed(0)} B${suffix}`;
  }
  if (unit === 'ms') return `${value < 10 ? value.toFixed(3) : value.toFixed(1)} ms`;
  if (unit === 'MB/s') return `${value.toFixed(1)} MB/s`;
  if (unit === 'µs') return `${value.toFixed(2)} µs`;
  if (unit === '%') return `${value.toFixed(2)} %`;
  for (const [scale, prefix] of SI) if (Math.abs(value) >= scale) return `${(value / scale).toFixed(2)} ${prefix}${unit}`;
  return `${value.toFixed(1)} ${unit}`;
}

function formatRatio(ratio) {
  return typeof ratio === 'number' && Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : 'n/a';
}

function verdict(row) {
  if (row.met === true) return 'met';
  if (row.met === false) return 'MISSED';
  return row.target ? 'n/a' : '';
}

/** Rows → arrays of cells. */
function cells(rows) {
  return rows.map((r) => [
    r.scenario,
    r.metric,
    formatValue(r.value, r.unit),
    r.baseline ? `${r.baseline.name}: ${formatValue(r.baseline.value, r.unit)}` : r.note || '',
    formatRatio(r.ratio),
    r.target ? r.target.text : '',
    verdict(r),
  ]);
}

const HEADER = ['scenario', 'metric', 'VNF', 'baseline', 'ratio', 'target', 'met'];

function text(rows) {
  const all = [HEADER, ...cells(rows)];
  const widths = HEADER.map((_, i) => Math.max(...all.map((row) => row[i].length)));
  const line = (row) => row.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  return [line(all[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...all.slice(1).map(line)].join('\n');
}

function markdown(rows) {
  const esc = (c) => c.replace(/\|/g, '\\|');
  return [
    `| ${HEADER.join(' | ')} |`,
    `| ${HEADER.map(() => '---').join(' | ')} |`,
    ...cells(rows).map((row) => `| ${row.map(esc).join(' | ')} |`),
  ].join('\n');
}

module.exports = { text, markdown, formatValue, formatRatio };
