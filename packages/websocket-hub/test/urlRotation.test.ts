// The broker URL list of WebSocketFactory: its validation, the rotation order and the backoff per round.
import { WebSocketFactory, WebSocketHub, type VnfSocket } from '../src';
import { rotationDelay, type Backoff } from '../src/backoff';
import { UrlRotation, startIndex } from '../src/UrlRotation';
import { until } from '@vnf/conformance';

// No broker here (the URLs refuse connections): this file does not load @vnf/broker.
const FAST_RECONNECT = { initialDelayMs: 20, maxDelayMs: 200 };

const invalid = (message: RegExp) => expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(message) });

describe('WebSocketFactory broker URLs', () => {
  it('one string works as before: it is the url, the only one, and keeps its session key', () => {
    const stored = new Map<string, string>();
    const store = { getItem: (k: string) => stored.get(k) ?? null, setItem: (k: string, v: string) => void stored.set(k, v), removeItem: (k: string) => void stored.delete(k) };
    const factory = new WebSocketFactory('ws://one.example/vnf', { sessionStore: store });
    expect(factory.url).toBe('ws://one.example/vnf');
    expect(factory.urls).toEqual(['ws://one.example/vnf']);
    factory.saveSession('endpoint', 'alice', 'token');
    expect([...stored.keys()]).toEqual(['vnf:session:ws://one.example/vnf:endpoint:alice']);
  });

  it('several URLs share one session key whatever their order: any broker of the cluster takes the session over', () => {
    const stored = new Map<string, string>();
    const store = { getItem: (k: string) => stored.get(k) ?? null, setItem: (k: string, v: string) => void stored.set(k, v), removeItem: (k: string) => void stored.delete(k) };
    new WebSocketFactory(['ws://b.example', 'ws://a.example'], { sessionStore: store }).saveSession('endpoint', 'alice', 'token');
    expect(new WebSocketFactory(['ws://a.example', 'ws://b.example'], { sessionStore: store }).loadSession('endpoint', 'alice')).toBe('token');
  });

  it('refuses an empty array, a URL that is not ws:// or wss://, a duplicate and a wrong type, at construction, saying what to do', () => {
    expect(() => new WebSocketFactory([])).toThrow(invalid(/^WebSocketFactory: the array of broker URLs is empty: give at least one ws:\/\/ or wss:\/\/ URL/));
    expect(() => new WebSocketFactory('http://x')).toThrow(invalid(/the broker URL must start with ws:\/\/ or wss:\/\/; got "http:\/\/x"/));
    expect(() => new WebSocketFactory(['ws://a.example', 'https://b.example'])).toThrow(invalid(/broker URL 1 must start with ws:\/\/ or wss:\/\/; got "https:\/\/b.example"\. Give each broker's WebSocket URL/));
    expect(() => new WebSocketFactory(['ws://a.example', 42] as never)).toThrow(invalid(/broker URL 1 must start with ws:\/\/ or wss:\/\/; got 42/));
    expect(() => new WebSocketFactory(['ws://a.example/x', 'ws://b.example', 'ws://a.example/x'])).toThrow(invalid(/broker URLs 0 and 2 are the same broker .*: list each broker once\./));
    // Two spellings of one URL are one broker.
    expect(() => new WebSocketFactory(['WS://A.example:80/x', 'ws://a.example/x'])).toThrow(invalid(/broker URLs 0 and 1 are the same broker/));
    expect(() => new WebSocketFactory(undefined as never)).toThrow(invalid(/the first argument must be a ws:\/\/ or wss:\/\/ URL, or an array/));
    expect(() => new WebSocketFactory(['ws://a.example'], { urlStart: 'last' } as never)).toThrow(invalid(/option "urlStart" must be one of "random", "first"/));
  });

  it("urlStart 'first' starts at the first URL; 'random' draws the start once per factory", () => {
    expect(new WebSocketFactory(['ws://a.example', 'ws://b.example'], { urlStart: 'first' }).url).toBe('ws://a.example');
    expect(startIndex(3, 'first', () => 0.9)).toBe(0);
    expect(startIndex(3, 'random', () => 0)).toBe(0);
    expect(startIndex(3, 'random', () => 0.5)).toBe(1);
    expect(startIndex(3, 'random', () => 0.99)).toBe(2);
    expect(startIndex(3, 'random', () => 1)).toBe(2);
    expect(startIndex(1, 'random', () => 0.99)).toBe(0);
    const random = jest.spyOn(Math, 'random').mockReturnValue(0.75);
    try {
      const factory = new WebSocketFactory(['ws://a.example', 'ws://b.example']);
      expect(factory.url).toBe('ws://b.example');
      expect([factory.rotation().next(), factory.rotation().next()]).toEqual(['ws://b.example', 'ws://b.example']);
    } finally {
      random.mockRestore();
    }
  });

  it('a rotation goes through the URLs in turn from its start, wrapping around', () => {
    const rotation = new UrlRotation(['a', 'b', 'c'], 1);
    expect(rotation.size).toBe(3);
    expect(Array.from({ length: 7 }, () => rotation.next())).toEqual(['b', 'c', 'a', 'b', 'c', 'a', 'b']);
  });

  it('the backoff grows once per full round of URLs; with one URL, once per attempt as before', () => {
    const backoff: Backoff = { initialDelayMs: 100, maxDelayMs: 1000, factor: 2, jitter: 0 };
    expect(Array.from({ length: 7 }, (_, i) => rotationDelay(i, 3, backoff))).toEqual([100, 100, 100, 200, 200, 200, 400]);
    expect(Array.from({ length: 5 }, (_, i) => rotationDelay(i, 1, backoff))).toEqual([100, 200, 400, 800, 1000]);
  });

  it('a socket that cannot connect tries every URL in turn', async () => {
    const urls = ['ws://127.0.0.1:1/a', 'ws://127.0.0.1:1/b', 'ws://127.0.0.1:1/c'];
    const tried: string[] = [];
    class Recording extends WebSocketFactory {
      override create(url?: string): VnfSocket {
        tried.push(url ?? this.url);
        return super.create(url);
      }
    }
    const hub = new WebSocketHub(new Recording(urls, { reconnect: FAST_RECONNECT, urlStart: 'first' }));
    try {
      hub.openEndpoint('erin');
      await until('five connect attempts', 10_000, () => tried.length >= 5);
      expect(tried.slice(0, 5)).toEqual([...urls, ...urls.slice(0, 2)]);
    } finally {
      await hub.close();
    }
  });
});
