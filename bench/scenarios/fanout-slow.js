'use strict';
// Fan-out with a member that stops reading: the fanout setup (lib/fanout-group.js) with 4 KiB messages (so that what
// piles up for a stalled member outgrows the kernel's socket buffers within seconds), where member m0 pauses its
// socket partway (it stays connected and reads nothing more; its TCP window fills, then what is sent to it piles up
// in the relay). Each rep opens fresh processes per system and runs at full load once without a pause and once with
// it (which goes first alternates), the latter until m0 is slowBehindMiB behind; then m0 reads on, which tells what
// had been buffered for it and what was dropped. Reported: the others' p99 (the members that kept reading) with the
// stalled member ÷ without it, and the sender's longest wait (window or drain) with ÷ without it: a sender the relay
// holds back for the stalled member shows up as one long wait. VNF (WebSocketHub through the broker) is the row;
// raw `ws` batched and socket.io (which never hold a sender back: they buffer for the stalled member without bound)
// are in the notes.
const { systems: all } = require('../lib/fanout-systems');
const { config, windowFor, openGroup, describe } = require('../lib/fanout-group');
const { median } = require('../lib/measure');
const { row, atMost } = require('../lib/rows');

exports.run = async ({ quick, log }) => {
  const cfg = { ...config(quick) };
  cfg.size = cfg.slowSize;
  Object.assign(cfg, windowFor(cfg.size));
  // Room (the optional row of fanout) only when named in BENCH_FANOUT_SYSTEMS.
  const systems = all.filter((s) => (cfg.only ? cfg.only.includes(s.name) : s.name !== 'Room'));
  const duration = cfg.slowDurationMs;
  const pauseAtMs = cfg.slowPauseAtMs;
  const behind = cfg.slowBehindMiB * 1024 ** 2;
  log(
    `${cfg.members} members in ${cfg.processes} processes, ${cfg.size} B, window ${cfg.window}; runs of ${duration} ms without a stalled member, ` +
      `and with m0 stalled after ${pauseAtMs} ms until it is ${cfg.slowBehindMiB} MiB behind (at most ${cfg.slowMaxMs} ms); ${cfg.slowReps} reps of VNF, ${cfg.slowBaselineReps} of each baseline`,
  );
  const results = Object.fromEntries(systems.map((s) => [s.name, { normal: [], slow: [] }]));
  const unavailable = {};
  for (let r = 0; r < cfg.slowReps; r++) {
    for (let i = 0; i < systems.length; i++) {
      const system = systems[(i + r) % systems.length];
      if (unavailable[system.name]) continue;
      if (system.name !== 'WebSocketHub' && r >= cfg.slowBaselineReps) continue;
      let group = null;
      try {
        group = await openGroup(system, cfg, { slow: true });
        await group.run(Math.min(duration, quick ? 300 : 2_000)); // warm-up
        // Alternate reps run the stalled case first, so neither case always gets the better-warmed processes. (After
        // it m0 reads again, or the relay has cut it off; either way the run without a stall leaves it out of every figure.)
        let normal = null;
        const runNormal = async () => {
          normal = await group.run(duration);
          log(`rep ${r + 1} ${system.name} without a stalled member: ${describe(normal)}`);
        };
        if (r % 2 === 0) await runNormal();
        const slow = await group.run(cfg.slowMaxMs, { pauseAtMs, stopBehindBytes: behind });
        const m = slow.stalledMember;
        const mib = (n) => `${((n * cfg.size) / 1024 ** 2).toFixed(1)} MiB`;
        log(
          `rep ${r + 1} ${system.name} with m0 stalled after ${slow.pausedAfterMs === null ? '?' : slow.pausedAfterMs.toFixed(0)} ms: ${describe(slow)}; ` +
            `m0 read ${m.before} of ${slow.broadcasts} before it read on (${mib(slow.broadcasts - m.before)} behind), ${m.after} after ` +
            `(${mib(m.after - m.before)} had been buffered for it, ${mib(slow.broadcasts - m.after)} dropped)${m.cutOff ? `, ${m.cutOff} member(s) cut off by the relay` : ''}`,
        );
        if (r % 2 === 1) await runNormal();
        results[system.name].normal.push(normal);
        results[system.name].slow.push(slow);
      } catch (err) {
        unavailable[system.name] = err.notAvailable || /not available/.test(err.message) ? `not available: ${err.message.split('\n')[0]}` : `failed: ${err.message.split('\n')[0]}`;
        log(`${system.name}: ${unavailable[system.name]}`);
      } finally {
        if (group) await group.close();
      }
    }
  }
  const summary = {};
  for (const [name, { normal, slow }] of Object.entries(results)) {
    if (!slow.length) continue;
    const med = (list, f) => median(list.map(f));
    summary[name] = {
      p99: med(normal, (x) => x.p99),
      p99Stalled: med(slow, (x) => x.p99),
      rate: med(normal, (x) => x.rate),
      rateStalled: med(slow, (x) => x.rate),
      longestWaitMs: med(normal, (x) => x.longestWaitMs),
      longestWaitStalledMs: med(slow, (x) => x.longestWaitMs),
      worstWaitStalledMs: Math.max(...slow.map((x) => x.longestWaitMs)),
      drainWaitStalledMs: Math.max(...slow.map((x) => x.waits.drain.max)),
      senderCutOff: slow.some((x) => x.stalled),
      /** What was behind for the stalled member when it read on, what of it still reached it (buffered) and what was dropped, MiB. */
      behindMiB: med(slow, (x) => ((x.broadcasts - x.stalledMember.before) * cfg.size) / 1024 ** 2),
      bufferedMiB: med(slow, (x) => ((x.stalledMember.after - x.stalledMember.before) * cfg.size) / 1024 ** 2),
      droppedMiB: med(slow, (x) => ((x.broadcasts - x.stalledMember.after) * cfg.size) / 1024 ** 2),
      cutOff: Math.max(...slow.map((x) => x.stalledMember.cutOff)),
      lost: slow.reduce((s, x) => s + x.lost, 0),
      normal,
      slow,
    };
  }
  const common = { scenario: 'fanout-slow' };
  const vnf = 'WebSocketHub';
  const missing = unavailable[vnf] ? unavailable[vnf].split(':')[0] : 'failed';
  const s = summary[vnf];
  const others = (name) => {
    const o = summary[name];
    if (!o) return `${name}: ${unavailable[name] || 'n/a'}`;
    return `${name}: p99 ${o.p99.toFixed(1)} → ${o.p99Stalled.toFixed(1)} ms (${(o.p99Stalled / o.p99).toFixed(2)}×), longest wait ${o.longestWaitMs.toFixed(0)} → ${o.longestWaitStalledMs.toFixed(0)} ms, ${fate(o)}`;
  };
  const fate = (o) => `stalled member ${o.behindMiB.toFixed(0)} MiB behind: ${o.bufferedMiB.toFixed(1)} MiB buffered for it, ${o.droppedMiB.toFixed(1)} MiB dropped${o.cutOff ? ', cut off' : ''}`;
  const rows = [
    row({
      ...common,
      metric: `others' p99 with one of ${cfg.members} members stalled, ${cfg.size} B`,
      unit: 'ms',
      value: s ? s.p99Stalled : missing,
      baseline: { name: 'VNF without it', value: s ? s.p99 : null },
      target: atMost(2, '≤ 2× without it'),
      note: [s ? fate(s) : unavailable[vnf], others('raw ws batched'), others('socket.io')].join('; '),
    }),
    row({
      ...common,
      metric: "sender's longest wait with a member stalled",
      unit: 'ms',
      value: s ? s.longestWaitStalledMs : missing,
      baseline: { name: 'VNF without it', value: s ? s.longestWaitMs : null },
      // Held back, the sender would wait seconds (the broker holds a sender up to slowConsumerTimeoutMs, 15 s); a
      // window wait of tens of ms is the ordinary round trip of an acknowledgement on a busy machine.
      target: atMost(1000, 'never paused: no wait ≥ 1 s', 'value'),
      note: s ? `worst rep ${s.worstWaitStalledMs.toFixed(0)} ms, of it waiting for drain ${s.drainWaitStalledMs.toFixed(0)} ms${s.senderCutOff ? `; the sender was held back past ${cfg.stallCapMs} ms` : ''}${s.lost ? `; ${s.lost} deliveries to the others lost` : ''}` : unavailable[vnf],
    }),
    row({
      ...common,
      metric: `others' deliveries/s with one member stalled`,
      unit: 'deliveries/s',
      value: s ? s.rateStalled : missing,
      baseline: { name: 'VNF without it', value: s ? s.rate : null },
    }),
  ];
  return { rows, details: { config: cfg, durationMs: duration, pauseAtMs, summary, unavailable } };
};
