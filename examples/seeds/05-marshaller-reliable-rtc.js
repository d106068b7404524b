'use strict';
// Seed: MarshallerHub(ReliableRtcHub(WebSocketHub)): JSON and large messages, reliable, direct when possible.
// Run: node examples/seeds/05-marshaller-reliable-rtc.js
// WebRTC: in a sandbox without a network, run it inside ../shared/bin/loopback-only (see examples/README.md).
const Vnf = require('vnf');
const { startBroker, deadline } = require('./support');

deadline();
startBroker().then(function (broker) {
// The local broker's URL stands in for the seed's "wss://<server-host-name>/webbroker/vnf-ws".
const brokerUrl = broker.url

// Creating in browser hub of endpoints
const webSocketFactory = new Vnf.WebSocketFactory(brokerUrl)
const vnfHub = new Vnf.MarshallerHub(new Vnf.ReliableRtcHub(new Vnf.WebSocketHub(webSocketFactory)));
// Creating endpoint in hub
const endpoint1 = vnfHub.openEndpoint("endpoint1-name")
const endpoint2 = vnfHub.openEndpoint("endpoint2-name")
// Rest part the same as InBrowserHub
// Listening to messages
endpoint1.onMessage = function(event) {
console.info("Endpoint-1 got a message from endpoint " + event.sourceEva + ", message is: " + event.message)
if(event.message == "I am good!") {
console.info("Endpoint 1 is closing connection to " + event.sourceEva)
endpoint1.closeConnection(event.sourceEva)
}
}
endpoint2.onMessage = function(event) {
console.info("Endpoint-2 got a message from endpoint " + event.sourceEva + ", message is: " + event.message)
if(event.message == "How are you?") {
endpoint2.send(event.sourceEva, "I am good!")
}
}
// Handling close connection and releasing endpoints
endpoint2.onConnectionLost(function(targetEva){
console.info("Endpoint-2 lost connection to " + targetEva + ", releasing endpoints")
endpoint1.destroy()
endpoint2.destroy()
})
// Open connection and sending handshake message
endpoint1.openConnection("endpoint2-name", function(event){
if(event.status != "CONNECTED") return;
console.info("Endpoint-1 established connection to " + event.targetEva + ", status is: " + event.status)
endpoint1.send(event.targetEva, "How are you?")
})

// Not in the seed: close the hub and the broker once the endpoints are released, so the process exits.
endpoint2.onConnectionLost(() => vnfHub.close().then(broker.close))
})
