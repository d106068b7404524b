'use strict';
// Seed: WebSocketRegistryClient sharing a WebSocketHub endpoint's socket.
// Run: node examples/seeds/08-registry-over-endpoint.js
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

const webSocketFactory = new Vnf.WebSocketFactory(brokerUrl)
const vnfHub = new Vnf.WebSocketHub(webSocketFactory);
// Creating endpoint in hub
const endpoint1 = vnfHub.openEndpoint("endpoint1-name")
const registryClient = new Vnf.WebSocketRegistryClient(endpoint1.getWebSocketRpc())
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
