// A real broker on 127.0.0.1, port 0, for one test file.
import { Broker, type BrokerOptions } from '@vnf/broker';
import { until as waitUntil } from '@vnf/conformance';
import { WebSocketFactory, type WebSocketFactoryOptions } from '../src';

export interface RunningBroker {
  broker: Broker;
  url: string;
  port: number;
  factory(options?: WebSocketFactoryOptions): WebSocketFactory;
  close(): Promise<void>;
}

/** Fast reconnects keep tests short. */
export const FAST_RECONNECT = { initialDelayMs: 20, maxDelayMs: 200 };

export async function startBroker(options: BrokerOptions = {}, port = 0): Promise<RunningBroker> {
  const broker = new Broker(options);
  const address = await broker.listen({ port, host: '127.0.0.1' });
  return {
    broker,
    url: address.url,
    port: address.port,
    factory: (factoryOptions = {}) => new WebSocketFactory(address.url, { reconnect: FAST_RECONNECT, ...factoryOptions }),
    close: () => broker.close(),
  };
}

/** Resolves with the first emission of `event` on `emitter`, or rejects after `ms`. */
export function nextEvent<T = unknown>(emitter: { once(event: string, fn: (...args: any[]) => void): unknown }, event: string, ms = 10_000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} event within ${ms} ms`)), ms);
    emitter.once(event, (value: T) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}

/** Polls `condition` until it holds, or rejects after `ms` (the shared helper, in this file's argument order). */
export const until = (condition: () => boolean, what: string, ms = 10_000): Promise<void> => waitUntil(what, ms, condition);
