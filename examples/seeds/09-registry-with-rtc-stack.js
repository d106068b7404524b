'use strict';
// Seed: the chat stack MarshallerHub(ReliableRtcHub(WebSocketHub)) and a registry client on the same socket.
// Run: node examples/seeds/09-registry-with-rtc-stack.js
// WebRTC: in a sandbox without a network, run it inside ../shared/bin/loopback-only (see examples/README.md).
const assert = require('node:assert');
const Vnf = require('vnf');
const { startBroker, deadline } = require('./support');

deadline();
startBroker().then(function (broker) {
// The local broker's URL stands in for the seed's "wss://<server-host-name>/webbroker/vnf-ws".
const brokerUrl = broker.url
// Not in the seed: what the seed's test harness provided (a collection name and the end of the test).
const collection1Name = "collection1"
function done() {
console.info("The entry was created and read back.")
return registryClient.close().then(vnfHub.close).then(broker.close)
}

// Creating in browser hub of endpoints
const webSocketFactory = new Vnf.WebSocketFactory(brokerUrl)
const webSocketHub = new Vnf.WebSocketHub(webSocketFactory)
const vnfHub = new Vnf.MarshallerHub(new Vnf.ReliableRtcHub(webSocketHub));
// Creating endpoint in hub
const endpoint1 = vnfHub.openEndpoint("endpoint1-name")
const webSocketRpc = webSocketHub.openEndpoint("endpoint1-name").getWebSocketRpc()
const registryClient = new Vnf.WebSocketRegistryClient(webSocketRpc)
// Rest part the same as InBrowserRegistry
Promise.resolve()
.then(registryClient.createEntry.bind(null, {collection: collection1Name, name:"entry1"}, "entry value"))
.then(function(status) {
assert.equal(status, Vnf.Global.OK, "asserting status");
})
.then(registryClient.getEntry.bind(null, {collection: collection1Name, name:"entry1"}))
.then(function(value){
assert.equal(value, "entry value", "asserting inserted entry");
})
.then(done);
})
