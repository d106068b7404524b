'use strict';
// One table row: a VNF figure, the baseline measured in the same run, their ratio (VNF / baseline)
// and, when the brief sets one, the target and whether it was met.

/**
 * target: { on: 'ratio' | 'value', op: '>=' | '<=', value, text }
 * A row whose VNF side could not be measured carries value 'not available' (or 'failed') and a note.
 */
function row({ scenario, metric, unit, value, baseline, target, note }) {
  const measured = typeof value === 'number' && Number.isFinite(value);
  const ratio = measured && baseline && baseline.value ? value / baseline.value : null;
  let met = null;
  if (target && measured) {
    const subject = target.on === 'ratio' ? ratio : value;
    if (subject != null) met = target.op === '>=' ? subject >= target.value : subject <= target.value;
  }
  return { scenario, metric, unit, value: value ?? null, baseline: baseline || null, ratio, target: target || null, met, note };
}

const atLeast = (value, text, on = 'ratio') => ({ on, op: '>=', value, text });
const atMost = (value, text, on = 'ratio') => ({ on, op: '<=', value, text });

module.exports = { row, atLeast, atMost };
