// The stream conformance suite through a real broker on 127.0.0.1: MultiplexHub(WebSocketHub), each peer with its own
// socket. A cut is the broker dropping the sender's socket (`broker.terminate`): both sides lose the connection, the
// socket comes back with its session token, and PeerStreams opens a new connection and resumes.
import { afterAll, beforeAll } from '@jest/globals';
import { Broker } from '@vnf/broker';
import { streamConformance } from '@vnf/conformance';
import type { Hub, MultiplexingEndpoint } from '@vnf/core';
import { MultiplexHub } from '@vnf/multiplex-hub';
import { PeerStreams } from '@vnf/streams';
import { WebSocketFactory, WebSocketHub } from '@vnf/websocket-hub';

let broker: Broker;
let url: string;
beforeAll(async () => {
  broker = new Broker();
  ({ url } = await broker.listen({ port: 0, host: '127.0.0.1' }));
});
afterAll(() => broker.close());

streamConformance('PeerStreams over MultiplexHub(WebSocketHub) through a real broker', {
  createNetwork: (beneath: (inner: Hub) => Hub) => {
    const hubs: Hub[] = [];
    return {
      open(eva: string) {
        const hub = new MultiplexHub(beneath(new WebSocketHub(new WebSocketFactory(url, { reconnect: { initialDelayMs: 20, maxDelayMs: 200 } }))));
        hubs.push(hub);
        return hub.openEndpoint(eva);
      },
      cut(a: string) {
        if (!broker.terminate(a)) throw new Error(`No socket of ${a} on the broker to cut.`);
      },
      async close() {
        await Promise.all(hubs.map((hub) => hub.close()));
      },
    };
  },
  createStreams: (endpoint: MultiplexingEndpoint, options) => new PeerStreams(endpoint, options),
});
