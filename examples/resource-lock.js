'use strict';
// A lock over the broker's registry, with a fencing token: run this in several terminals against one broker. One
// process is master and prints its token; kill it (Ctrl-C, or kill -9) and another takes over with a higher token.
//
//   npx vnf-broker                                        a broker on ws://127.0.0.1:8080/webbroker/vnf-ws
//   node examples/resource-lock.js [brokerUrl] [name]     in each terminal (name: this process's eva)
//
// A process that exits cleanly (Ctrl-C) hands the lock over at once. One that dies (kill -9, a lost network) keeps it
// for the broker's grace (`evaGraceMs`, 5 s by default), then its will removes the entry and the next in line takes it.
// A master whose channel drops stops being master at once (`lost`): it cannot know whether it still holds the lock.
const Vnf = require('vnf');

const url = process.argv[2] || 'ws://127.0.0.1:8080/webbroker/vnf-ws';
const name = process.argv[3] || `worker-${process.pid}`;
const LOCK_NAME = 'resource-lock-example';

const client = new Vnf.WebSocketRegistryClient(new Vnf.WebSocketRpc(name, new Vnf.WebSocketFactory(url)));
const lock = new Vnf.Lock(client, LOCK_NAME, { info: { pid: process.pid } });
let stopping = false;

client.on('error', (error) => console.error(`${name}: registry client error: ${error.code} ${error.message}`));
lock.on('lost', (error) => console.log(`${name} is no longer master (${error.code}): ${error.message}`));

/** Resolves on the client's next `resynced` (the channel came back and the client restored its state). */
function resynced() {
  return new Promise((resolve) => client.once('resynced', resolve));
}

/** Resolves when the lock is lost. */
function lost() {
  return new Promise((resolve) => lock.once('lost', resolve));
}

async function main() {
  while (!stopping) {
    console.log(`${name} waits for the lock "${LOCK_NAME}"`);
    try {
      const { token } = await lock.acquire();
      // Anything this master writes to the resource it guards carries the token; the resource refuses tokens below
      // the highest it has seen, so a master that lost the lock without knowing it cannot overwrite a newer one.
      console.log(`${name} is master (fencing token ${token})`);
      await lost();
    } catch (error) {
      if (stopping || error.code === 'DESTROYED') return;
      if (error.code !== 'UNAVAILABLE') throw error;
      console.log(`${name}: the broker is unreachable (${error.message}); waiting for it`);
    }
    await resynced();
  }
}

async function stop() {
  if (stopping) return;
  stopping = true;
  const wasMaster = lock.held;
  await lock.release().catch(() => undefined);
  await client.close();
  if (wasMaster) console.log(`${name} released the lock`);
  process.exit(0);
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

main().catch((error) => {
  console.error(`${name}: ${error && error.stack ? error.stack : error}`);
  process.exit(1);
});
