import { hubConformance } from '@vnf/conformance';
import { WebSocketHub } from '../src';
import { startBroker, type RunningBroker } from './brokerFixture';

let running: RunningBroker;
beforeAll(async () => {
  running = await startBroker();
});
afterAll(() => running.close());

hubConformance('WebSocketHub', {
  createHub: () => new WebSocketHub(running.factory()),
  payloads: 'wire',
  timeoutMs: 10_000,
  cutTransport: (endpoint) => {
    running.broker.terminate(endpoint.eva);
  },
});
