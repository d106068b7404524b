import type { VnfError } from '@vnf/core';

const WS_URL = /^wss?:\/\//i;

/**
 * Checks the first argument of WebSocketFactory: one broker URL, or the URLs of the brokers of one cluster.
 * `invalid` builds the INVALID_ARGUMENT error (the factory's options schema words it). Returns the URLs in the
 * order given.
 */
export function brokerUrls(value: unknown, invalid: (message: string) => VnfError): readonly string[] {
  // One string keeps the check it always had.
  if (typeof value === 'string') {
    if (!WS_URL.test(value)) throw invalid(`the broker URL must start with ws:// or wss://; got ${JSON.stringify(value)}.`);
    return [value];
  }
  if (!Array.isArray(value)) {
    throw invalid(`the first argument must be a ws:// or wss:// URL, or an array of the URLs of one cluster's brokers; got ${describe(value)}.`);
  }
  if (value.length === 0) {
    throw invalid('the array of broker URLs is empty: give at least one ws:// or wss:// URL (several for failover between the brokers of one cluster).');
  }
  const seen = new Map<string, number>();
  value.forEach((url: unknown, i: number) => {
    if (typeof url !== 'string' || !WS_URL.test(url)) {
      throw invalid(`broker URL ${i} must start with ws:// or wss://; got ${describe(url)}. Give each broker's WebSocket URL, e.g. "wss://broker-1.example/webbroker/vnf-ws".`);
    }
    const key = sameBrokerKey(url);
    const first = seen.get(key);
    if (first !== undefined) {
      throw invalid(`broker URLs ${first} and ${i} are the same broker (${JSON.stringify(url)}): list each broker once.`);
    }
    seen.set(key, i);
  });
  return Object.freeze([...(value as string[])]);
}

/**
 * What names the brokers' session tokens in a sessionStore. One URL keeps the key it always had (tokens stored by
 * an older version stay valid); several are one cluster whatever their order, since any of its brokers takes a
 * session over.
 */
export function sessionScope(urls: readonly string[]): string {
  return urls.length === 1 ? urls[0]! : [...urls].sort().join('|');
}

/** Two spellings of one URL (`WS://Host:80/x`, `ws://host/x`) are one broker; URL parsing normalizes them. */
function sameBrokerKey(url: string): string {
  try {
    return new URL(url).href;
  } catch {
    return url;
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : String(value);
}
