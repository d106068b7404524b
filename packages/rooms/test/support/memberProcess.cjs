'use strict';
// A process holding room members (roomMember.ts, from the TypeScript sources through bench/lib/register), driven by
// its parent over IPC (memberProcess.ts): { id, op, args } → { id, value } or { id, error }. Ops: join(spec),
// broadcast(eva, tag, count), received(eva, tag), counts(eva, tag), report(eva), diagnose(eva), leave(eva). It exits when the
// parent goes away; the test kills it with SIGKILL to see a crashed member leave.
require('../../../../bench/lib/register');
const { RoomMember } = require('./roomMember.ts');

const members = new Map();

function member(eva) {
  const m = members.get(eva);
  if (!m) throw new Error(`no member ${eva} in process ${process.pid}`);
  return m;
}

const ops = {
  async join(spec) {
    members.set(spec.eva, await RoomMember.join(spec));
    return spec.eva;
  },
  broadcast: (eva, tag, count) => member(eva).broadcast(tag, count),
  received: (eva, tag) => member(eva).received(tag),
  counts: (eva, tag) => member(eva).counts(tag),
  report: (eva) => member(eva).report(),
  diagnose: (eva) => member(eva).diagnose(),
  leave: (eva) => member(eva).leave(),
  async close() {
    await Promise.all([...members.values()].map((m) => m.close()));
    members.clear();
  },
};

process.on('message', (msg) => {
  Promise.resolve()
    .then(() => ops[msg.op](...msg.args))
    .then(
      (value) => process.send({ id: msg.id, value: value === undefined ? null : value }),
      (err) => process.send({ id: msg.id, error: err && err.stack ? err.stack : String(err) }),
    );
});
process.on('disconnect', () => process.exit(0));
process.send({ ready: true });
