'use strict';
// One contender of lockSafety.test.ts, in a process of its own: contends for one Lock through the broker with the
// built packages (`npm run build`), and tells the test everything over IPC. The test keeps the fenced resource: a
// holder writes to it with its token (`write`), and the test answers whether the write was accepted.
//
//   node lockContender.cjs <brokerUrl> <eva> <lockName>
//
// To the test (times are process.hrtime.bigint() in ns, one monotonic clock for every process of the machine):
//   { t: 'waiting' }                         acquire() called
//   { t: 'acquired', token, at }             the lock is held
//   { t: 'write', seq, token, held }         a write to the resource (the test answers { t: 'written', seq, ok })
//   { t: 'releasing', at } / { t: 'released', at }
//   { t: 'lost', code, at }                  the Lock emitted `lost`
//   { t: 'problem', message }                anything unexpected (the test fails on it)
// From the test:
//   { t: 'release' }                         release the lock, then contend again
//   { t: 'writeNow' }                        write once more with the last token held, whatever the Lock says
const { WebSocketFactory, WebSocketRpc } = require('@vnf/websocket-hub');
const { WebSocketRegistryClient, Lock } = require('@vnf/registry');

const [url, eva, lockName] = process.argv.slice(2);
const WRITE_EVERY_MS = 25;

const now = () => process.hrtime.bigint().toString();
const tell = (message) => {
  if (process.connected) process.send(message);
};
// The test is gone (it failed, or was killed): so is this contender.
process.on('disconnect', () => process.exit(0));

const client = new WebSocketRegistryClient(new WebSocketRpc(eva, new WebSocketFactory(url, { reconnect: { initialDelayMs: 50, maxDelayMs: 500 } })));
const lock = new Lock(client, lockName);
let lastToken = null;
let seq = 0;
let writer = null;

client.on('error', (error) => tell({ t: 'problem', message: `registry client error: ${error.code} ${error.message}` }));
lock.on('error', (error) => tell({ t: 'problem', message: `lock error: ${error.code} ${error.message}` }));
lock.on('lost', (error) => {
  stopWriting();
  tell({ t: 'lost', code: error.code, at: now() });
  // Contend again once the channel is back (the Lock removes a stale entry of ours first).
  client.once('resynced', contend);
});

function write() {
  if (lastToken === null) return;
  tell({ t: 'write', seq: ++seq, token: lastToken, held: lock.held });
}

function stopWriting() {
  if (writer) clearInterval(writer);
  writer = null;
}

let contending = false;
async function contend() {
  if (contending || lock.held) return;
  contending = true;
  tell({ t: 'waiting' });
  try {
    const { token } = await lock.acquire();
    lastToken = token;
    tell({ t: 'acquired', token, at: now() });
    write();
    // While it believes it holds the lock, the holder keeps using the resource.
    writer = setInterval(() => {
      if (lock.held) write();
    }, WRITE_EVERY_MS);
  } catch (error) {
    if (error && error.code === 'UNAVAILABLE') client.once('resynced', contend);
    else tell({ t: 'problem', message: `acquire failed: ${error && error.code} ${error && error.message}` });
  } finally {
    contending = false;
  }
}

process.on('message', async (message) => {
  if (message.t === 'writeNow') write();
  else if (message.t === 'release') {
    if (!lock.held) return;
    stopWriting();
    tell({ t: 'releasing', at: now() });
    try {
      await lock.release();
      tell({ t: 'released', at: now() });
    } catch (error) {
      tell({ t: 'problem', message: `release failed: ${error && error.code} ${error && error.message}` });
    }
    void contend();
  }
});

void contend();
