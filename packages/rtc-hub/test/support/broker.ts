import { Broker } from '@vnf/broker';

/** A real broker on 127.0.0.1, a free port; `stop()` closes it. */
export async function startBroker(): Promise<{ url: string; broker: Broker; stop(): Promise<void> }> {
  const broker = new Broker();
  const { url } = await broker.listen({ port: 0, host: '127.0.0.1' });
  return { url, broker, stop: () => broker.close() };
}
