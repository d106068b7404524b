'use strict';
// Seed: InBrowserRegistry: create an entry, read it back.
// Run: node examples/seeds/06-in-browser-registry.js
const assert = require('node:assert');
const Vnf = require('vnf');
const { deadline } = require('./support');

deadline();
// Not in the seed: what the seed's test harness provided (a collection name and the end of the test).
const collection1Name = "collection1"
function done() {
console.info("The entry was created and read back.")
return registryClient.close()
}

const sharedRegistry = new Vnf.InBrowserRegistry();
const registryClient = sharedRegistry.connect("endpoint1-name")
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
