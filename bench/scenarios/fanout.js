'use strict';
// Fan-out: one sender to 100 members through a relay server, every process of its own (lib/fanout-group.js):
//   WebSocketHub through the broker: the sender endpoint is connected to every member endpoint and calls
//   `endpoint.multicast(members, message)`; against socket.io 4 rooms (`socket.to(room).emit`,
//   servers/socketio-fanout.js) and raw `ws` batched per tick (servers/raw-ws-fanout.js, the honest limit).
//   Each run broadcasts 100 B strings for durationMs, at most `window` broadcasts past what the members
//   acknowledged (through the relay) and only while the sender's buffer is below paceBytes; reps in rotated
//   order, medians reported: deliveries per second, p99 latency (send time in the payload) at full load and at a
//   fixed load of `rate` broadcasts a second, and the sender's uplink bytes per broadcast (bytes its TCP socket wrote).
const { systems: all } = require('../lib/fanout-systems');
const { config, openGroup, describe } = require('../lib/fanout-group');
const { median } = require('../lib/measure');
const { row, atLeast, atMost } = require('../lib/rows');

const range = (values) => [Math.min(...values), Math.max(...values)];

exports.run = async ({ quick, log }) => {
  const cfg = config(quick);
  const systems = all.filter((s) => !cfg.only || cfg.only.includes(s.name));
  log(`${cfg.members} members in ${cfg.processes} processes, ${cfg.size} B, window ${cfg.window} broadcasts (ack every ${cfg.ackEvery}), ${cfg.durationMs} ms × ${cfg.reps} reps`);
  const groups = [];
  const unavailable = {};
  try {
    for (const system of systems) {
      try {
        const group = await openGroup(system, cfg);
        groups.push(group);
        log(`${system.name} warm-up: ${describe(await group.run(cfg.durationMs))}`);
      } catch (err) {
        unavailable[system.name] = err.notAvailable || /not available/.test(err.message) ? `not available: ${err.message.split('\n')[0]}` : `failed: ${err.message.split('\n')[0]}`;
        log(`${system.name}: ${unavailable[system.name]}`);
        const opened = groups.findIndex((g) => g.system === system);
        if (opened >= 0) await groups.splice(opened, 1)[0].close();
      }
    }
    const runs = Object.fromEntries(groups.map((g) => [g.system.name, []]));
    const fixed = Object.fromEntries(groups.map((g) => [g.system.name, []]));
    /** A system that fails mid-run leaves the run (its rows say why); the others go on. */
    const drop = async (group, err) => {
      unavailable[group.system.name] = `failed: ${err.message.split('\n')[0]}`;
      log(`${group.system.name}: ${unavailable[group.system.name]}`);
      groups.splice(groups.indexOf(group), 1);
      delete runs[group.system.name];
      delete fixed[group.system.name];
      await group.close();
    };
    const rotated = (r) => groups.map((_, i) => groups[(i + r) % groups.length]);
    for (let r = 0; r < cfg.reps; r++) {
      for (const group of rotated(r)) {
        try {
          const result = await group.run(cfg.durationMs);
          runs[group.system.name].push(result);
          log(`rep ${r + 1} ${group.system.name}: ${describe(result)}`);
        } catch (err) {
          await drop(group, err);
        }
      }
    }
    // Latency at a fixed load every system sustains: `rate` broadcasts a second, rounds interleaved as above.
    for (let r = 0; r < cfg.reps; r++) {
      for (const group of rotated(r)) {
        try {
          const result = await group.run(cfg.durationMs, { rate: cfg.rate });
          fixed[group.system.name].push(result);
          log(`rep ${r + 1} ${group.system.name} at ${cfg.rate} broadcasts/s: ${describe(result)}`);
        } catch (err) {
          await drop(group, err);
        }
      }
    }
    const summary = {};
    for (const [name, list] of Object.entries(runs)) {
      const of = (field) => median(list.map((x) => x[field]).filter((v) => v !== null));
      summary[name] = {
        rate: of('rate'),
        rateRange: range(list.map((x) => x.rate)),
        p50: of('p50'),
        p99: of('p99'),
        uplinkPerBroadcast: list.some((x) => x.uplinkPerBroadcast !== null) ? of('uplinkPerBroadcast') : null,
        lost: list.reduce((s, x) => s + x.lost, 0),
        reps: list,
        fixedLoad: { p50: median(fixed[name].map((x) => x.p50)), p99: median(fixed[name].map((x) => x.p99)), rate: median(fixed[name].map((x) => x.rate)), reps: fixed[name] },
      };
    }

    const common = { scenario: 'fanout' };
    const vnf = 'WebSocketHub';
    const missing = unavailable[vnf] ? unavailable[vnf].split(':')[0] : 'failed';
    const get = (name, field) => (summary[name] ? summary[name][field] : null);
    const note = (name) => {
      const s = summary[name];
      if (!s) return unavailable[name];
      return `${name} reps ${s.rateRange.map((x) => (x / 1e6).toFixed(2)).join('–')} M${s.lost ? `, ${s.lost} deliveries lost` : ''}`;
    };
    const metric = `fan-out to ${cfg.members}, ${cfg.size} B, deliveries/s`;
    const uplink = (name) => (get(name, 'uplinkPerBroadcast') === null ? 'n/a' : `${get(name, 'uplinkPerBroadcast').toFixed(0)} B`);
    const rows = [
      row({ ...common, metric, unit: 'deliveries/s', value: get(vnf, 'rate') ?? missing, baseline: { name: 'raw ws batched', value: get('raw ws batched', 'rate') }, target: atLeast(0.5, '≥ 0.5× raw ws batched'), note: note(vnf) }),
      row({ ...common, metric, unit: 'deliveries/s', value: get(vnf, 'rate') ?? missing, baseline: { name: 'socket.io', value: get('socket.io', 'rate') }, target: atLeast(5, '≥ 5× socket.io'), note: note('socket.io') }),
    ];
    const fixedP99 = (name) => (summary[name] ? summary[name].fixedLoad.p99 : null);
    const atRate = `${((cfg.rate * cfg.members) / 1000).toFixed(0)} k deliveries/s`;
    for (const base of ['raw ws batched', 'socket.io']) {
      rows.push(row({ ...common, metric: `fan-out latency p99 at ${atRate}`, unit: 'ms', value: fixedP99(vnf) ?? missing, baseline: { name: base, value: fixedP99(base) } }));
    }
    for (const base of ['raw ws batched', 'socket.io']) {
      rows.push(row({ ...common, metric: `fan-out latency p99 at full load (window ${cfg.window})`, unit: 'ms', value: get(vnf, 'p99') ?? missing, baseline: { name: base, value: get(base, 'p99') } }));
    }
    rows.push(
      row({
        ...common,
        metric: "sender's uplink bytes per broadcast",
        unit: 'B',
        value: get(vnf, 'uplinkPerBroadcast') ?? missing,
        baseline: { name: 'message size', value: cfg.size },
        target: atMost(1.1, '≤ 1.1× the message'),
        note: `raw ws batched ${uplink('raw ws batched')}, socket.io ${uplink('socket.io')}`,
      }),
    );
    // The optional rows of `room.broadcast` (@vnf/rooms over MultiplexHub(WebSocketHub), and encrypted over
    // MultiplexHub(SecureHub(WebSocketHub)) with sender keys): no target of their own.
    for (const [roomName, label] of [['Room', 'room.broadcast'], ['Room (SecureHub)', 'encrypted room.broadcast']]) {
      if (!summary[roomName] && !unavailable[roomName]) continue;
      const roomMissing = unavailable[roomName] ? unavailable[roomName].split(':')[0] : 'failed';
      const roomMetric = `${label} to ${cfg.members}, ${cfg.size} B, deliveries/s`;
      rows.push(row({ ...common, metric: roomMetric, unit: 'deliveries/s', value: get(roomName, 'rate') ?? roomMissing, baseline: { name: 'raw ws batched', value: get('raw ws batched', 'rate') }, note: summary[roomName] ? note(roomName) : unavailable[roomName] }));
      rows.push(row({ ...common, metric: roomMetric, unit: 'deliveries/s', value: get(roomName, 'rate') ?? roomMissing, baseline: { name: 'WebSocketHub multicast', value: get(vnf, 'rate') } }));
      if (roomName !== 'Room') rows.push(row({ ...common, metric: roomMetric, unit: 'deliveries/s', value: get(roomName, 'rate') ?? roomMissing, baseline: { name: 'room.broadcast', value: get('Room', 'rate') } }));
      rows.push(row({ ...common, metric: `${label} latency p99 at ${atRate}`, unit: 'ms', value: fixedP99(roomName) ?? roomMissing, baseline: { name: 'raw ws batched', value: fixedP99('raw ws batched') } }));
      rows.push(row({ ...common, metric: `${label}: sender's uplink bytes per broadcast`, unit: 'B', value: get(roomName, 'uplinkPerBroadcast') ?? roomMissing, baseline: { name: 'message size', value: cfg.size } }));
    }
    return { rows, details: { config: cfg, summary, unavailable } };
  } finally {
    for (const group of groups) await group.close();
  }
};
