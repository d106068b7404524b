'use strict';
// The soak's child processes talk to it over IPC: `child(name, start)` runs `start(args, report)` when the soak
// sends { type: 'start', args }, answers { type: 'stop' } with the stats `start` returned (its stop function's
// result), and exits when the soak goes away. Loads the TypeScript sources as the tests do (bench's register).
require('../../bench/lib/register');

function child(name, start) {
  let stop = null;
  const fail = (err) => {
    process.send({ type: 'error', error: `${name}: ${err && err.stack ? err.stack : String(err)}` });
    process.exit(1);
  };
  process.on('uncaughtException', fail);
  process.on('unhandledRejection', fail);
  process.on('disconnect', () => process.exit(0));
  process.on('message', async (msg) => {
    try {
      if (msg.type === 'start') {
        stop = await start(msg.args, (extra) => process.send({ type: 'report', ...extra }));
        process.send({ type: 'started' });
      } else if (msg.type === 'stop') {
        const stats = stop ? await stop() : {};
        process.send({ type: 'stopped', stats });
      } else if (msg.type === 'exit') {
        process.exit(0);
      }
    } catch (err) {
      fail(err);
    }
  });
  process.send({ type: 'loaded' });
}

module.exports = { child };
