// The broker's heartbeat (Departures.startHeartbeat): a socket heard from needs no ping; a silent one is pinged
// after a whole interval of silence and cut if it stays silent; one that answers pings stays.
import { startBroker, type Running } from './fixture';
import { RawClient } from './rawClient';

const INTERVAL = 200;
let running: Running;
afterEach(() => running?.close());

interface Probed {
  client: RawClient;
  pings(): number;
  /** Resolves once `n` pings arrived; rejects after `ms`. */
  pinged(n: number, ms: number): Promise<void>;
}

async function client(eva: string, options: { autoPong?: boolean } = {}): Promise<Probed> {
  const c = running.track(await RawClient.connect(running.url, options));
  let pings = 0;
  const waiting: { n: number; resolve: () => void }[] = [];
  c.ws.on('ping', () => {
    pings++;
    for (const w of waiting.filter((x) => x.n <= pings)) w.resolve();
  });
  const welcome = await c.hello(eva);
  expect(welcome.t).toBe('welcome');
  return {
    client: c,
    pings: () => pings,
    pinged: (n, ms) =>
      new Promise((resolve, reject) => {
        if (pings >= n) return resolve();
        const timer = setTimeout(() => reject(new Error(`${eva}: ${pings} of ${n} pings within ${ms} ms`)), ms);
        waiting.push({ n, resolve: () => (clearTimeout(timer), resolve()) });
      }),
  };
}

describe('broker heartbeat', () => {
  it('pings only silent sockets, cuts one that does not answer, keeps one that does', async () => {
    running = await startBroker({ heartbeatIntervalMs: INTERVAL });
    const chatty = await client('chatty');
    const answering = await client('answering');
    const dead = await client('dead', { autoPong: false });
    // The chatty client keeps itself alive, as the VNF client does with its own pings.
    const keepAlive = setInterval(() => chatty.client.sendControl({ t: 'ping' }), INTERVAL / 4);
    try {
      await dead.client.closedWithin(20 * INTERVAL);
      expect(dead.pings()).toBeGreaterThanOrEqual(1);
      // By now at least two whole intervals passed: the silent, answering client was pinged and is still up.
      await answering.pinged(2, 20 * INTERVAL);
      expect(answering.client.closeCode).toBeNull();
      expect(chatty.client.closeCode).toBeNull();
      expect(chatty.pings()).toBe(0);
    } finally {
      clearInterval(keepAlive);
    }
  });

  it('heartbeatIntervalMs 0 never pings', async () => {
    running = await startBroker({ heartbeatIntervalMs: 0 });
    const silent = await client('silent', { autoPong: false });
    const probe = await client('probe');
    // Round trips through the broker while the silent socket waits: no ping reaches it, nothing cuts it.
    for (let i = 0; i < 5; i++) {
      probe.client.sendControl({ t: 'ping' });
      await probe.client.control((m) => m.t === 'pong' && (probe.client.controls.filter((c) => c.t === 'pong').length > i));
    }
    expect(silent.pings()).toBe(0);
    expect(silent.client.closeCode).toBeNull();
  });
});
