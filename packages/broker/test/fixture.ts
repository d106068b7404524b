import { Broker, type BrokerOptions } from '../src';
import { RawClient } from './rawClient';

export interface Running {
  broker: Broker;
  url: string;
  port: number;
  clients: RawClient[];
  /** Tracks raw clients so that the file closes them. */
  track(client: RawClient): RawClient;
  close(): Promise<void>;
}

export async function startBroker(options: BrokerOptions = {}): Promise<Running> {
  const broker = new Broker(options);
  const { url, port } = await broker.listen({ port: 0, host: '127.0.0.1' });
  const clients: RawClient[] = [];
  return {
    broker,
    url,
    port,
    clients,
    track: (client) => {
      clients.push(client);
      return client;
    },
    close: async () => {
      await Promise.all(clients.splice(0).map((c) => c.close()));
      await broker.close();
    },
  };
}
