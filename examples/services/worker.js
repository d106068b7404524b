'use strict';
// A Node process hosting the service `worker.wordcount`, which the page calls (`callAny`) through the broker.
//   node examples/services/worker.js [brokerUrl] [eva]      (defaults: ws://127.0.0.1:8080/webbroker/vnf-ws, worker-1)
// The service is advertised in the broker's registry: the server's `authorize` hook lets only evas `worker-…` do so.
// Its `allow` option lets only pages (`page-…`) call it. Ctrl-C stops it, and its ad goes at once.
const Vnf = require('vnf');

const brokerUrl = process.argv[2] || 'ws://127.0.0.1:8080/webbroker/vnf-ws';
const eva = process.argv[3] || 'worker-1';
const SERVICE = 'worker.wordcount';
/** A pause per line, so that the page can show the progress. */
const LINE_MS = Number(process.env.LINE_MS ?? 150);

const webSocketHub = new Vnf.WebSocketHub(new Vnf.WebSocketFactory(brokerUrl));
// Services speak a sub-protocol of their own: MultiplexHub on top, on both peers.
const hub = new Vnf.MultiplexHub(webSocketHub);
const endpoint = hub.openEndpoint(eva);
// The registry client on the endpoint's own socket: the ad is then removed with this endpoint.
const registry = new Vnf.WebSocketRegistryClient(webSocketHub.openEndpoint(eva).getWebSocketRpc());
const services = new Vnf.PeerServices(endpoint, { registry });
services.on('error', (error) => console.error(`${eva}: ${error.code}: ${error.message}`));

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => reject((clearTimeout(timer), signal.reason)), { once: true });
  });
}

const wordcount = services.provide(
  SERVICE,
  async (text, { caller, signal, progress }) => {
    if (typeof text !== 'string') throw new Vnf.VnfError('INVALID_ARGUMENT', 'worker.wordcount counts the words of a string.');
    const lines = text.split('\n');
    let words = 0;
    for (let i = 0; i < lines.length; i++) {
      words += lines[i].split(/\s+/).filter(Boolean).length;
      progress({ line: i + 1, of: lines.length, words });
      await sleep(LINE_MS, signal);
    }
    console.log(`${eva}: counted ${words} words on ${lines.length} lines for ${caller}`);
    return { words, lines: lines.length, by: eva };
  },
  {
    advertise: { info: { description: 'Counts the words of a text, line by line' } },
    // `caller` is the eva the broker stamped on the call: a caller cannot claim another.
    allow: (caller) => {
      if (caller.startsWith('page-')) return true;
      console.log(`${eva}: refused a call from ${caller}`);
      return false;
    },
  },
);

// The ad is written in the background: tell when it is there, so that pages find this worker.
wordcount.advertised.then((advertised) => {
  if (advertised) console.log(`${eva} provides ${SERVICE} (advertised)`);
  else console.error(`${eva}: the ad of ${SERVICE} could not be written to the registry (is the eva allowed to advertise it?)`);
});

async function stop() {
  await services.close();
  await registry.close();
  await hub.close();
  process.exit(0);
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
