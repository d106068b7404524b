// Proves the hub conformance suite can fail: each mutant breaks one rule of DESIGN.md §1 in a copy of
// @vnf/core and @vnf/in-browser-hub, runs the suite against InBrowserHub, and expects the test named
// for that rule to fail. Run: `node scripts/conformance-mutants.mjs` (about a minute).
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const core = 'packages/core/src/AbstractEndpoint.ts';
const hub = 'packages/in-browser-hub/src/InBrowserEndpoint.ts';
const hubClass = 'packages/in-browser-hub/src/InBrowserHub.ts';
const abstractHub = 'packages/core/src/AbstractHub.ts';

/** [rule, file, original text, replacement, a fragment of the test name expected to fail] */
const mutants = [
  ['delivery inside send', hub, 'this.network.schedule(() => peer.received(this, payload));', 'peer.received(this, payload);', 'asynchronous'],
  ['binary not copied', hub, ': copyBinary(message as Uint8Array | ArrayBuffer)', ': (message as Uint8Array)', 'binary arrives as a Uint8Array copy'],
  ['absent target connects', hub, "resolve({ status: ConnectionStatus.FAILED, targetEva, reason: 'NOT_FOUND' });", "resolve({ status: ConnectionStatus.CONNECTED, targetEva });", 'NOT_FOUND'],
  ['send without connection allowed', core, 'if (!this.connected.has(targetEva)) {\n      throw', 'if (false) {\n      throw', 'NOT_CONNECTED at the call'],
  ['lost fired twice', core, "this.emitSafely('connectionLost', peerEva);", "this.emitSafely('connectionLost', peerEva); this.emitSafely('connectionLost', peerEva);", 'exactly once'],
  ['destroy does not tell peers', hub, 'for (const eva of peers) this.disconnect(eva);', '', "destroy() fires onConnectionLost"],
  ['eva reuse allowed', abstractHub, "if (this.shareable.delete(eva)) return existing;", 'return existing;', 'EVA_IN_USE'],
  ['calls after destroy allowed', core, 'if (this.isDestroyed) {\n      throw', 'if (false) {\n      throw', 'DESTROYED'],
  ['callback called twice', core, 'if (cb) this.callListener(() => cb(own));', 'if (cb) { this.callListener(() => cb(own)); this.callListener(() => cb(own)); }', 'exactly once'],
  ['no implicit accept', hub, 'target.accepted(this);', '', 'accepts implicitly'],
  ['messages reordered', hub, 'this.network.schedule(() => peer.received(this, payload));', "if (typeof payload === 'string' && payload.endsWith('7')) setTimeout(() => peer.received(this, payload), 1); else this.network.schedule(() => peer.received(this, payload));", 'in the order sent'],
  ['messages duplicated', hub, 'this.network.schedule(() => peer.received(this, payload));', "this.network.schedule(() => peer.received(this, payload)); if (payload === 'a3') this.network.schedule(() => peer.received(this, payload));", 'exactly once ('],
  ['timer leaked on close', hubClass, 'this.timers.clear();', 'this.timers.clear(); setInterval(() => undefined, 1000);', 'no timer or socket'],
  ['payload not validated', core, 'validateWirePayload(message, this.maxPayloadSize);', '', 'INVALID_PAYLOAD'],
  ['size limit not enforced', core, 'this.maxPayloadSize = options.maxPayloadSize ?? Infinity;', 'this.maxPayloadSize = Infinity;', 'TOO_LARGE'],
  ['listener error swallowed', core, "if (this.listenerCount('error') > 0) this.emit('error', error);\n      // Like", "if (false) this.emit('error', error);\n      // Like", 'throwing onMessage'],
  ['lost listener error escapes', core, "    this.emitSafely('connectionLost', peerEva);", "    this.emit('connectionLost', peerEva);", 'throwing connection or connectionLost'],
  ['methods need this', core, 'this.send = this.send.bind(this);', '', 'unbound'],
  ['close leaves endpoints open', abstractHub, 'for (const endpoint of open) endpoint.destroy();', '', 'hub.close() destroys'],
  ['closer told of its own close', core, 'if (!this.connected.delete(targetEva)) return;\n    this.disconnect(targetEva);', "if (!this.connected.delete(targetEva)) return;\n    this.disconnect(targetEva); this.emit('connectionLost', targetEva);", 'not on the closing side'],
  ['wrong sourceEva', hub, 'this.deliver(source.eva, payload);', "this.deliver(source.eva, typeof payload === 'string' && payload.startsWith('a-to') ? payload + '!' : payload);", 'only the messages sent to it'],
  ['connect callback never called on failure', core, "const own = { ...event };\n      if (cb)", "const own = { ...event };\n      if (cb && own.status === 'CONNECTED')", 'NOT_FOUND'],
];

const work = mkdtempSync(join(tmpdir(), 'vnf-mutants-'));
for (const dir of ['packages/core', 'packages/in-browser-hub', 'packages/conformance']) {
  cpSync(join(root, dir), join(work, dir), { recursive: true, filter: (p) => !p.includes('/dist') && !p.includes('node_modules') });
}
symlinkSync(join(root, 'node_modules'), join(work, 'node_modules'));
cpSync(join(root, 'jest.config.js'), join(work, 'jest.config.js'));

let survived = 0;
for (const [rule, file, from, to, expectedFailure] of mutants) {
  const path = join(work, file);
  const original = readFileSync(path, 'utf8');
  if (!original.includes(from)) {
    console.log(`?  ${rule}: mutation point not found in ${file} (update this script)`);
    survived++;
    continue;
  }
  writeFileSync(path, original.replace(from, to));
  const run = spawnSync('npx', ['jest', 'packages/in-browser-hub/test/conformance.test.ts', '--json', '--testTimeout=15000', '--forceExit'], {
    cwd: work,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    // A mutant that leaks a timer must not hang the run.
    timeout: 300_000,
  });
  writeFileSync(path, original);
  let failed = [];
  try {
    const report = JSON.parse(run.stdout);
    failed = report.testResults.flatMap((r) => r.assertionResults.filter((a) => a.status === 'failed').map((a) => a.title));
  } catch {
    failed = ['(suite crashed)'];
  }
  const caught = failed.some((title) => title.includes(expectedFailure) || title === '(suite crashed)');
  if (!caught) survived++;
  console.log(`${caught ? 'killed  ' : 'SURVIVED'} ${rule} — failing tests: ${failed.length ? failed.join(' | ') : 'none'}`);
}
rmSync(work, { recursive: true, force: true });
console.log(`\n${mutants.length - survived}/${mutants.length} mutants killed by the test named for their rule.`);
process.exit(survived === 0 ? 0 : 1);
