'use strict';
// One attacker process: runs the attack named in its start message until the soak says stop, then reports what it
// did. Attacks stay within what the broker allows one client (its default limits) unless said otherwise, and use
// the attacker addresses 127.0.0.3–9 of the loopback namespace.
const fc = require('fast-check');
const { child } = require('./child.cjs');
const support = require('../../packages/broker/test/adversarial/support.ts');
const { Fuzzer, fuzzFrameArbitrary } = require('../../packages/broker/test/adversarial/fuzzFrames.ts');

const { ATTACKERS, IdleConnections, callAll, controlFrame, rawConnect, rawRegister, turn } = support;
const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
/** Evas of this process: an earlier attacker's may still be reserved (its sockets were cut, within evaGraceMs). */
const tag = process.pid.toString(36);

/**
 * Closes with 1000 when the attack ends: a cut socket's eva, entries and watches stay reserved for evaGraceMs and
 * would count against the next phase's attacker from the same address.
 */
async function closeCleanly(client) {
  if (client.closeCode !== null) return;
  client.ws.resume();
  client.ws.close(1000);
  await client.closedWithin(2000).catch(() => client.close());
}

/** Counts close codes, and what an attacker's sockets were answered. */
class Tally {
  constructor() {
    this.counts = {};
  }
  add(key, n = 1) {
    this.counts[key] = (this.counts[key] ?? 0) + n;
  }
}

/** Registers `eva` from `address`, or tallies the refusal and resolves null. */
async function tryRegister(url, eva, address, tally, extra = {}) {
  try {
    const [client] = await rawRegister(url, eva, address, extra);
    return client;
  } catch (err) {
    const code = /"code":"(\d+)"/.exec(err.message);
    tally.add(`refused ${code ? code[1] : 'error'}`);
    return null;
  }
}

/**
 * Item 1: the registry holds 100 entries of 60 KB (7 owners: the default maxBytesPerOwner is 1 MiB); `sockets`
 * attackers each send one frame of 1 900 registry.list calls a second (under maxControlPerSecond), half of them
 * whole lists (TOO_LARGE), half first pages, and reconnect when closed.
 */
async function listFlood(url, { sockets = 8, callsPerFrame = 1900 }) {
  const tally = new Tally();
  const owners = [];
  const value = 'v'.repeat(60_000);
  for (let o = 0; o < 7; o++) {
    const [owner] = await rawRegister(url, `${tag}-lf-owner-${o}`, ATTACKERS[6], { role: 'rpc' });
    owners.push(owner);
    const calls = Array.from({ length: 15 }, (_, i) => ({ method: 'registry.create', params: { collection: 'lf-big', name: `lf-${o}-${i}`, value } }));
    const answers = await callAll(owner, calls, 1);
    tally.add('entries', answers.filter((a) => a.t === 'result').length);
  }
  const frame = controlFrame(
    Array.from({ length: callsPerFrame }, (_, i) => ({ t: 'call', id: i + 1, method: 'registry.list', params: i % 2 ? { collection: 'lf-big' } : { collection: 'lf-big', after: null } })),
  );
  let running = true;
  let next = 0;
  const loops = Array.from({ length: sockets }, async (_, s) => {
    let client = null;
    while (running) {
      if (!client || client.closeCode !== null) {
        if (client) tally.add(`closed ${client.closeCode}`);
        client = await tryRegister(url, `${tag}-lf-${next++}`, ATTACKERS[s % 4], tally);
        if (!client) {
          await wait(100);
          continue;
        }
      }
      const second = Date.now();
      client.ws.send(frame);
      tally.add('calls', callsPerFrame);
      await wait(Math.max(0, 1000 - (Date.now() - second)));
      for (const m of client.controls.splice(0)) if (m.t === 'result' || m.t === 'failure') tally.add(m.t === 'result' ? 'result' : m.code);
    }
    if (client) await closeCleanly(client);
  });
  return async () => {
    running = false;
    await Promise.all(loops);
    await Promise.all(owners.map(closeCleanly));
    return tally.counts;
  };
}

/**
 * Item 4a: `sockets` clients each register, stop reading and send 50 000 pings a second; when the broker cuts one
 * (it is closed 4006, then cut since it does not read the close), it reconnects under a new eva.
 */
async function pingFlood(url, { sockets = 8, perSecond = 50_000 }) {
  const tally = new Tally();
  const frame = controlFrame(Array.from({ length: 500 }, () => ({ t: 'ping' })));
  let running = true;
  let next = 0;
  const loops = Array.from({ length: sockets }, async (_, s) => {
    while (running) {
      const client = await tryRegister(url, `${tag}-pf-${next++}`, ATTACKERS[s % 4], tally);
      if (!client) {
        await wait(100);
        continue;
      }
      client.ws.pause();
      const start = Date.now();
      let pings = 0;
      while (running && client.closeCode === null) {
        while (pings < ((Date.now() - start) * perSecond) / 1000 + 500 && client.ws.readyState === 1) {
          client.ws.send(frame);
          pings += 500;
        }
        await turn();
      }
      tally.add('pings', pings);
      if (client.closeCode !== null) tally.add(`closed ${client.closeCode}`);
      await closeCleanly(client);
    }
  });
  return async () => {
    running = false;
    await Promise.all(loops);
    return tally.counts;
  };
}

/**
 * Item 4b: 16 rpc sockets × 64 watches from one address (the broker keeps 256 of them) and a writer updating an
 * entry of the watched collection as fast as its budgets allow (16 calls in flight, under 2 000 control messages
 * a second). The watchers read without parsing, as a real attacker's would.
 */
async function watchFanout(url, { watchers = 16, perWatcher = 64, valueBytes = 1000, perSecond = 1900 }) {
  const tally = new Tally();
  const sockets = [];
  for (let i = 0; i < watchers; i++) {
    const [w] = await rawRegister(url, `${tag}-wf-${i}`, ATTACKERS[0], { role: 'rpc' });
    sockets.push(w);
    const answers = await callAll(w, Array.from({ length: perWatcher }, (_, j) => ({ method: 'registry.watch', params: { collection: 'wf', watchId: `w${i}-${j}` } })), 1);
    for (const a of answers) tally.add(a.t === 'result' ? 'watches' : `watch ${a.code}`);
  }
  let bytes = 0;
  for (const w of sockets) {
    w.ws.removeAllListeners('message');
    w.ws.on('message', (data) => (bytes += data.length));
  }
  let running = true;
  const loop = (async () => {
    let updates = 0;
    let id = 10;
    // Batches of 16 spaced evenly, never catching up in a burst: any second holds fewer than 2 000 control messages.
    const spacing = (16 * 1000) / perSecond;
    for (let w = 0; running; w++) {
      const writer = await tryRegister(url, `${tag}-wf-writer-${w}`, ATTACKERS[1], tally, { role: 'rpc' });
      if (!writer) {
        await wait(100);
        continue;
      }
      await callAll(writer, [{ method: 'registry.create', params: { collection: 'wf', name: `x-${w}`, value: 'y'.repeat(valueBytes) } }], 1);
      let nextAt = Date.now();
      while (running && writer.closeCode === null) {
        const batch = Array.from({ length: 16 }, (_, i) => ({ method: 'registry.update', params: { collection: 'wf', name: `x-${w}`, value: `${i}${'y'.repeat(valueBytes)}` } }));
        const answers = await callAll(writer, batch, id).catch(() => []);
        id += 16;
        updates += answers.filter((a) => a.t === 'result').length;
        writer.controls.splice(0);
        nextAt = Math.max(nextAt + spacing, Date.now());
        await wait(nextAt - Date.now());
      }
      if (writer.closeCode !== null) tally.add(`writer closed ${writer.closeCode}`);
      await closeCleanly(writer);
    }
    tally.add('updates', updates);
  })();
  return async () => {
    running = false;
    await loop;
    tally.add('notification bytes received', bytes);
    for (const w of sockets) if (w.closeCode !== null) tally.add(`watcher closed ${w.closeCode}`);
    await Promise.all(sockets.map(closeCleanly));
    return tally.counts;
  };
}

/**
 * Item 4c: idle TCP connections that never send a byte from four addresses (300 each, topped up as the broker
 * cuts or reaps them), WebSocket sockets that never say hello (40 per address from two more), and registered
 * sockets that sit idle (40 from the last): every per-client budget is full.
 */
async function idleConnections(url, { port, idlePerAddress = 300, pendingPerAddress = 40, evas = 40 }) {
  const tally = new Tally();
  const idle = ATTACKERS.slice(0, 4).map(() => new IdleConnections());
  let running = true;
  const topUp = async () => {
    while (running) {
      idle.forEach((set, i) => {
        const open = set.stillOpen;
        if (open < idlePerAddress) set.open(port, ATTACKERS[i], idlePerAddress - open);
      });
      await wait(500);
    }
  };
  const pending = [];
  const pendingLoop = async (address) => {
    const mine = [];
    while (running) {
      for (let i = mine.length - 1; i >= 0; i--) {
        if (mine[i].closeCode !== null) {
          tally.add(`pending closed ${mine[i].closeCode}`);
          mine.splice(i, 1);
        }
      }
      while (running && mine.length < pendingPerAddress) {
        const c = await rawConnect(url, address).catch(() => null);
        if (!c) break;
        mine.push(c);
        pending.push(c);
      }
      await wait(500);
    }
  };
  const registered = [];
  for (let i = 0; i < evas; i++) {
    const c = await tryRegister(url, `${tag}-idle-eva-${i}`, ATTACKERS[6], tally, i % 2 ? { role: 'rpc' } : {});
    if (c) registered.push(c);
  }
  tally.add('evas held', registered.length);
  const loops = [topUp(), pendingLoop(ATTACKERS[4]), pendingLoop(ATTACKERS[5])];
  return async () => {
    running = false;
    await Promise.all(loops);
    idle.forEach((set, i) => {
      tally.add(`idle opened ${ATTACKERS[i]}`, set.sockets.length);
      tally.add(`idle closed by server ${ATTACKERS[i]}`, set.closedByServer);
    });
    await Promise.all(idle.map((set) => set.destroyAll()));
    await Promise.all([...pending, ...registered].map(closeCleanly));
    return tally.counts;
  };
}

/** The long fuzz: `frames` fuzzed frames in chunks of 10 000, each chunk from its own seed (seed + chunk). */
async function fuzz(url, { frames, seed, honestEvas, maxPayload, addresses, prefix, otherPrefixes = [] }, report) {
  const fuzzer = new Fuzzer(url, maxPayload, { honestEvas, addresses, prefix });
  const arbitrary = fuzzFrameArbitrary([...honestEvas, ...[prefix, ...otherPrefixes].flatMap((p) => Fuzzer.evaNames(p))]);
  let running = true;
  let chunks = 0;
  const loop = (async () => {
    for (let done = 0; running && done < frames; done += 10_000, chunks++) {
      await fuzzer.send(fc.sample(arbitrary, { seed: seed + chunks, numRuns: Math.min(10_000, frames - done) }));
      report({ what: 'progress', frames: fuzzer.stats.frames });
    }
    report({ what: 'done', frames: fuzzer.stats.frames });
  })();
  return async () => {
    await loop;
    running = false;
    await fuzzer.close();
    return { ...fuzzer.stats, anomalies: fuzzer.stats.anomalies.slice(0, 20), anomalyCount: fuzzer.stats.anomalies.length, seed, chunks };
  };
}

const ATTACKS = { 'list-flood': listFlood, 'ping-flood': pingFlood, 'watch-fanout': watchFanout, 'idle-connections': idleConnections, fuzz };

child('attacker', async ({ attack, url, ...params }, report) => {
  const run = ATTACKS[attack];
  if (!run) throw new Error(`unknown attack ${attack}`);
  return run(url, params, report);
});
