'use strict';
// A Node process calling `page.greet`, the service an open page hosts, through the broker; it prints the answer.
//   node examples/services/call-page.js [brokerUrl] [name] [eva]   (defaults: ws://127.0.0.1:8080/webbroker/vnf-ws, Ada, node-caller)
// The page allows callers `node-…` only: with another eva, the call is refused FORBIDDEN.
const Vnf = require('vnf');

const brokerUrl = process.argv[2] || 'ws://127.0.0.1:8080/webbroker/vnf-ws';
const name = process.argv[3] || 'Ada';
const eva = process.argv[4] || 'node-caller';

const webSocketHub = new Vnf.WebSocketHub(new Vnf.WebSocketFactory(brokerUrl));
const hub = new Vnf.MultiplexHub(webSocketHub);
const endpoint = hub.openEndpoint(eva);
const registry = new Vnf.WebSocketRegistryClient(webSocketHub.openEndpoint(eva).getWebSocketRpc());
const services = new Vnf.PeerServices(endpoint, { registry });

async function main() {
  try {
    // callAny finds the providers in the registry (the pages' ads) and calls one of them.
    const answer = await services.callAny('page.greet', { name }, { timeoutMs: 10_000 });
    console.log(`${answer.by} answered: ${answer.greeting}`);
  } catch (error) {
    const why = Vnf.VnfError.is(error, 'NOT_FOUND') ? ' (is the page open?)' : '';
    console.error(`${eva}: the call failed: ${error.code}: ${error.message}${why}`);
    process.exitCode = 1;
  } finally {
    await services.close();
    await registry.close();
    await hub.close();
  }
}
main();
