'use strict';
// One provider process of callAny.process.test.ts, on the built packages (`npm run build`):
//   node provider.cjs <brokerUrl> <eva> <service> <handlerMs>
// Provides <service>, advertised in the broker's registry through the endpoint's own socket, so that the ad goes with
// this process. Every handler run is reported on fd 3 as "ran <id>" with a synchronous write before the handler does
// anything else: a run that a kill -9 interrupts has been reported already, so the parent's count is exact. After
// SIGUSR1 it reports "hanging", and the handlers it starts from then on never answer.
const fs = require('node:fs');
const path = require('node:path');

const Vnf = require(path.join(__dirname, '../../../vnf/dist/index.cjs'));

const [brokerUrl, eva, service, handlerMs] = process.argv.slice(2);
const REPORT_FD = 3;

function report(line) {
  const bytes = Buffer.from(`${line}\n`);
  let written = 0;
  while (written < bytes.length) {
    try {
      written += fs.writeSync(REPORT_FD, bytes, written);
    } catch (err) {
      if (err.code !== 'EAGAIN') throw err;
    }
  }
}

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });
}

const webSocketHub = new Vnf.WebSocketHub(new Vnf.WebSocketFactory(brokerUrl));
const hub = new Vnf.MultiplexHub(webSocketHub);
const endpoint = hub.openEndpoint(eva);
// The same eva on the inner hub once more is the very WebSocketEndpoint under the MultiplexEndpoint: its Rpc shares
// the endpoint's socket, so the broker removes the ad when this process's socket goes (after its evaGraceMs).
const registry = new Vnf.WebSocketRegistryClient(webSocketHub.openEndpoint(eva).getWebSocketRpc());
const services = new Vnf.PeerServices(endpoint, { registry });

services.on('error', (error) => process.stderr.write(`${eva}: services error ${error.code}: ${error.message}\n`));
registry.on('error', (error) => process.stderr.write(`${eva}: registry error ${error.code}: ${error.message}\n`));

// SIGUSR1 (the test, just before it kills this process): every handler that starts from now on never answers, so
// the calls the kill cuts off are known for sure (a handler that had finished might have answered in flight).
let hanging = false;
process.on('SIGUSR1', () => {
  hanging = true;
  report('hanging');
});

services.provide(
  service,
  async (params, context) => {
    report(`ran ${params.id}`);
    if (hanging) await new Promise(() => undefined);
    await sleep(Number(handlerMs), context.signal);
    return { id: params.id, by: eva };
  },
  { advertise: true },
);

process.on('SIGTERM', () => {
  services
    .close()
    .then(() => registry.close())
    .then(() => hub.close())
    .then(
      () => process.exit(0),
      (err) => {
        process.stderr.write(`${eva}: close failed: ${err && err.stack ? err.stack : err}\n`);
        process.exit(1);
      },
    );
});
