'use strict';
// `npm run soak -- rooms`: rooms end to end at soak size (not part of `npm test`; the CI-sized version is
// packages/vnf/test/e2e/rooms.test.ts). Sixteen members of one room over a 5 %-drop chaos stack
// (MultiplexHub(ReliableHub(UnreliableHub(RtcHub(WebSocketHub))))), through the examples/rooms server (page, bundle,
// broker with a short evaGraceMs) in a process of its own: four Node processes of three members, two members in this
// process (one on the relay only: RtcHub forceRelay), two Chromium pages. Then:
//   burst     every member broadcasts 1,000: each received exactly once, in per-sender order, at every other member
//   reloads   50 page reloads, alternately clean (the page keeps its eva; every fifth comes back under a new eva) and
//             killed renderers (Chromium's Page.crash: no pagehide, no leave; a new tab with a new eva replaces it)
//   kill -9   one member process (three members) killed: each leaves exactly once at every other member
//   leave     the member that joined first leaves; the rest broadcast on
// and prints the figures. Exits 1 if anything was wrong.
//   npm run soak -- rooms            full size
//   npm run soak -- rooms --quick    100 messages each, 10 reloads (checks that the soak works)
//   npm run soak -- rooms --no-pages 16 Node members, no Chromium and no reloads
//   VNF_SOAK_SEED=<n>                the chaos seed (printed either way)
require('../../bench/lib/register');
const { fork } = require('child_process');

if (process.argv.includes('--rooms-server')) {
  // The server's process: the broker measured apart from the members.
  const { startRoomsServer } = require('../../examples/rooms/server.js');
  startRoomsServer({ port: 0, host: '127.0.0.1', evaGraceMs: Number(process.env.VNF_ROOMS_GRACE_MS) }).then((server) => {
    process.send({ url: server.url, brokerUrl: server.brokerUrl });
    process.on('disconnect', () => server.close().then(() => process.exit(0)));
  });
  return;
}

const { MemberProcess, describeMissing, localMember } = require('../../packages/rooms/test/support/memberHandles.ts');
const { checkStreams } = require('../../packages/rooms/test/support/roomMember.ts');
const { ensureBrowserBundle, launchChromium } = require('../../packages/vnf/test/e2e/helpers.ts');
const { RoomPage } = require('../../packages/vnf/test/e2e/roomPage.ts');

const GRACE_MS = 1000;
const DROP = 0.05;
const PROCESSES = 4;
const PER_PROCESS = 3;

const now = () => Number(process.hrtime.bigint()) / 1e6;
const log = (...a) => console.error('[soak rooms]', ...a);
const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
const occurrences = (list, eva) => list.filter((e) => e === eva).length;
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

async function until(what, timeoutMs, check, describe = async () => '') {
  const deadline = Date.now() + timeoutMs;
  let said = Date.now();
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${await describe()}`);
    if (Date.now() - said > 10_000) {
      said = Date.now();
      log(`still waiting for ${what}: ${await describe()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function run(argv) {
  const quick = argv.includes('--quick');
  // --no-pages: Node members only (16 of them), no reloads: to tell a browser's part from the rest.
  const PAGES = argv.includes('--no-pages') ? 0 : 2;
  const LOCALS = 2 + (2 - PAGES);
  const MESSAGES = quick ? 100 : 1000;
  const RELOADS = quick ? 10 : 50;
  const WAIT_MS = quick ? 60_000 : 180_000;
  const SEED = Number(process.env.VNF_SOAK_SEED ?? Math.floor(Math.random() * 2 ** 30));
  const room = `soak-rooms-${Date.now().toString(36)}`;
  const rows = [];
  const failures = [];
  const started = now();
  log(`${quick ? 'quick' : 'full'}: ${PROCESSES * PER_PROCESS + 4} members, ${MESSAGES} broadcasts each, ${RELOADS} reloads, drop ${DROP * 100} %, chaos seed ${SEED}`);

  ensureBrowserBundle();
  const serverProcess = fork(__filename, ['--rooms-server'], { env: { ...process.env, VNF_ROOMS_GRACE_MS: String(GRACE_MS) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const server = await new Promise((resolve, reject) => {
    serverProcess.once('message', resolve);
    serverProcess.once('exit', (code) => reject(new Error(`the rooms server exited (${code})`)));
  });
  const browser = await launchChromium();
  const processes = Array.from({ length: PROCESSES }, () => new MemberProcess(WAIT_MS));
  const locals = [];
  const pages = [];
  let n = 0;
  const spec = (label, forceRelay = false) => {
    n++;
    return { url: server.brokerUrl, room, eva: `${label}-${room.slice(-6)}-${n}`, seed: SEED + n, drop: DROP, forceRelay, info: { n } };
  };

  const reports = (members) => Promise.all(members.map((m) => m.report()));
  const describeLists = async (members, want) =>
    (await reports(members))
      .filter((r) => !same(r.members, want))
      .map((r) => `${r.eva} sees ${r.members.length} (missing ${want.filter((e) => !r.members.includes(e)).join(',') || '-'}; extra ${r.members.filter((e) => !want.includes(e)).join(',') || '-'})`)
      .join('; ');
  const allSee = async (members, what) => {
    const want = members.map((m) => m.eva).sort();
    await until(what, WAIT_MS, async () => (await reports(members)).every((r) => same(r.members, want)), () => describeLists(members, want));
  };
  /** Broadcasts `count` from each member; resolves with the time until each had all, and the problems found. */
  const burst = async (members, tag, count) => {
    const t0 = now();
    await Promise.all(members.map((m) => m.broadcast(tag, count)));
    const senders = members.map((m) => m.eva);
    const complete = async (m) => {
      const counts = await m.counts(tag);
      return senders.every((s) => s === m.eva || (counts[s] ?? 0) >= count);
    };
    await until(`${tag}: ${count} from each member at each other`, WAIT_MS * 2, async () => (await Promise.all(members.map(complete))).every(Boolean), () => describeMissing(members, tag, count));
    const ms = now() - t0;
    const problems = (await Promise.all(members.map(async (m) => checkStreams(m.eva, await m.received(tag), senders, count)))).flat();
    return { ms, problems, deliveries: members.length * (members.length - 1) * count };
  };

  try {
    // ---- join ----
    let t0 = now();
    const first = await localMember(spec('first'));
    locals.push(first);
    const relay = await localMember(spec('relay', true));
    locals.push(relay);
    for (let i = 2; i < LOCALS; i++) locals.push(await localMember(spec('node')));
    const joined = await Promise.all([
      ...processes.flatMap((p) => Array.from({ length: PER_PROCESS }, () => p.join(spec('proc')))),
      ...Array.from({ length: PAGES }, (_, i) => RoomPage.open(browser, { url: server.url, room, seed: SEED + 1000 + i, drop: DROP, timeoutMs: WAIT_MS })),
    ]);
    const procMembers = joined.slice(0, PROCESSES * PER_PROCESS);
    pages.push(...joined.slice(PROCESSES * PER_PROCESS));
    let present = [...locals, ...procMembers, ...pages];
    await allSee(present, `all ${present.length} to see each other`);
    rows.push(['join', now() - t0, `${present.length} members see each other`]);

    // ---- burst ----
    log(`burst: ${MESSAGES} broadcasts from each of ${present.length}`);
    const b = await burst(present, 'burst', MESSAGES);
    const gapsAfterBurst = (await reports(present)).reduce((sum, r) => sum + r.gaps, 0);
    const relayPaths = Object.values((await relay.report()).paths);
    const allPaths = (await reports(present)).flatMap((r) => Object.values(r.paths));
    rows.push([
      'burst',
      b.ms,
      `${b.deliveries.toLocaleString('en')} deliveries, ${Math.round(b.deliveries / (b.ms / 1000)).toLocaleString('en')}/s; exactly once in order: ${b.problems.length === 0 ? 'yes' : `NO (${b.problems.length} problems)`}; gaps ${gapsAfterBurst}; links direct ${allPaths.filter((p) => p === 'direct').length}, relay ${allPaths.filter((p) => p === 'relay').length} (relay member: ${relayPaths.every((p) => p === 'relay') ? 'all relay' : relayPaths.join(',')})`,
    ]);
    if (b.problems.length) failures.push(`burst: ${b.problems.slice(0, 5).join('; ')}`);
    if (!relayPaths.every((p) => p === 'relay')) failures.push(`the relay member has paths ${relayPaths.join(', ')}`);

    // ---- reloads ----
    if (PAGES > 0) {
      log(`reloads: ${RELOADS}`);
      t0 = now();
      const stay = present.filter((m) => !pages.includes(m));
      // Every page load is an incarnation of its eva; each one that ended (a reload, a crash) must be one leave at
      // every member present throughout: loads - 1 for an eva still in the room, loads for one gone for good.
      const loads = new Map(pages.map((p) => [p.eva, 1]));
      let clean = 0;
      let killed = 0;
      let renewed = 0;
      for (let i = 0; i < RELOADS; i++) {
        const p = pages[i % PAGES];
        if (i % 2 === 0) {
          const newEva = clean % 5 === 4;
          await p.reload({ newEva });
          clean++;
          if (newEva) renewed++;
        } else {
          await p.crashAndReopen();
          killed++;
        }
        loads.set(p.eva, (loads.get(p.eva) ?? 0) + 1);
      }
      await allSee(present, `every list to be the true set after ${RELOADS} reloads`);
      const settledMs = now() - t0;
      const current = new Set(pages.map((p) => p.eva));
      const ended = [...loads].map(([eva, count]) => [eva, count - (current.has(eva) ? 1 : 0)]);
      const expectedLeaves = ended.reduce((sum, [, count]) => sum + count, 0) * stay.length;
      const countLeaves = (rs) => rs.reduce((sum, r) => sum + ended.reduce((s, [eva]) => s + occurrences(r.leaves, eva), 0), 0);
      // The last incarnation's leave may still be on its way when the lists (of evas) are right already.
      await until('a leave of every ended page incarnation', WAIT_MS, async () => countLeaves(await reports(stay)) >= expectedLeaves).catch((err) => failures.push(err.message));
      const stayReports = await reports(stay);
      const seenLeaves = stayReports.reduce((sum, r) => sum + ended.reduce((s, [eva]) => s + occurrences(r.leaves, eva), 0), 0);
      const wrong = stayReports.flatMap((r) => ended.filter(([eva, count]) => occurrences(r.leaves, eva) !== count).map(([eva, count]) => `${r.eva}: ${occurrences(r.leaves, eva)} leaves of ${eva}, expected ${count}`));
      rows.push([
        'reloads',
        settledMs,
        `${clean} clean (${renewed} under a new eva) + ${killed} killed renderers; leaves of ended page incarnations seen ${seenLeaves}/${expectedLeaves} at the ${stay.length} members present throughout; final lists correct: yes`,
      ]);
      if (wrong.length) failures.push(`reloads: ${wrong.slice(0, 5).join('; ')}`);
      const after = await burst(present, 'after-reloads', 20);
      if (after.problems.length) failures.push(`after the reloads: ${after.problems.slice(0, 5).join('; ')}`);
    }

    // ---- kill -9 ----
    t0 = now();
    const victim = processes[PROCESSES - 1];
    const victims = procMembers.slice(-PER_PROCESS);
    await victim.kill();
    present = present.filter((m) => !victims.includes(m));
    await until('the killed members\' leaves', WAIT_MS, async () => (await reports(present)).every((r) => victims.every((v) => r.leaves.includes(v.eva))));
    const killMs = now() - t0;
    await allSee(present, 'the rest to see each other');
    const afterKill = await burst(present, 'after-kill', 20);
    const killReports = await reports(present);
    const killLeaves = killReports.reduce((sum, r) => sum + victims.reduce((s, v) => s + occurrences(r.leaves, v.eva), 0), 0);
    rows.push(['kill -9', killMs, `${victims.length} members of one process; leaves seen ${killLeaves}/${victims.length * present.length} (grace ${GRACE_MS} ms)`]);
    if (killLeaves !== victims.length * present.length) failures.push(`kill -9: ${killLeaves} leaves, expected ${victims.length * present.length}`);
    if (afterKill.problems.length) failures.push(`after the kill: ${afterKill.problems.slice(0, 5).join('; ')}`);

    // ---- the first member leaves ----
    t0 = now();
    await first.leave();
    present = present.filter((m) => m !== first);
    await allSee(present, 'the rest to see each other without the first member');
    const leaveMs = now() - t0;
    const afterLeave = await burst(present, 'after-first-left', 20);
    const finalReports = await reports(present);
    const firstLeaves = finalReports.reduce((sum, r) => sum + occurrences(r.leaves, first.eva), 0);
    const errors = finalReports.flatMap((r) => r.errors.map((e) => `${r.eva}: ${e}`));
    rows.push(['first leaves', leaveMs, `leaves seen ${firstLeaves}/${present.length}; the rest broadcast on: ${afterLeave.problems.length === 0 ? 'yes' : 'NO'}; errors ${errors.length}`]);
    if (firstLeaves !== present.length) failures.push(`first leaves: ${firstLeaves} leaves, expected ${present.length}`);
    if (afterLeave.problems.length) failures.push(`after the first left: ${afterLeave.problems.slice(0, 5).join('; ')}`);
    if (errors.length) failures.push(`errors: ${errors.slice(0, 5).join('; ')}`);
    const pageProblems = pages.flatMap((p) => p.problems);
    if (pageProblems.length) failures.push(`page problems: ${pageProblems.slice(0, 5).join('; ')}`);
  } catch (err) {
    failures.push(err.stack || String(err));
  } finally {
    await Promise.all(pages.map((p) => p.close().catch(() => undefined)));
    await browser.close();
    await Promise.all(processes.map((p) => p.close()));
    await Promise.all(locals.map((m) => m.close()));
    if (serverProcess.connected) serverProcess.disconnect();
  }

  console.log(`\nVNF rooms soak (${quick ? 'quick' : 'full'}), ${new Date().toISOString()}, ${Math.round((now() - started) / 1000)} s; ${PROCESSES * PER_PROCESS + 4} members, drop ${DROP * 100} %, chaos seed ${SEED}\n`);
  const widths = [Math.max(...rows.map((r) => r[0].length), 5), 8];
  for (const [phase, ms, figures] of rows) console.log(`| ${phase.padEnd(widths[0])} | ${seconds(ms).padStart(widths[1])} | ${figures}`);
  if (failures.length) {
    console.log('\nFAILED:');
    for (const f of failures) console.log(`- ${f}`);
    console.log(`replay the chaos: VNF_SOAK_SEED=${SEED} npm run soak -- rooms${quick ? ' --quick' : ''}`);
  } else console.log('\nall checks passed');
  return failures.length ? 1 : 0;
}

module.exports = { run };
