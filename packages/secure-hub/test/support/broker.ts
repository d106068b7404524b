// A real broker on 127.0.0.1, port 0, for one test file (as packages/websocket-hub/test/brokerFixture.ts does).
import { Broker } from '@vnf/broker';
import { WebSocketFactory } from '@vnf/websocket-hub';

export interface RunningBroker {
  broker: Broker;
  factory(): WebSocketFactory;
  close(): Promise<void>;
}

export async function startBroker(): Promise<RunningBroker> {
  const broker = new Broker();
  const address = await broker.listen({ port: 0, host: '127.0.0.1' });
  return {
    broker,
    factory: () => new WebSocketFactory(address.url, { reconnect: { initialDelayMs: 20, maxDelayMs: 200 } }),
    close: () => broker.close(),
  };
}
