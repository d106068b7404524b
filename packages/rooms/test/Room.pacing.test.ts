// A sender pacing its broadcasts on room.bufferedAmount and the room's drain, through a real broker.
import { until, waitFor } from '@vnf/conformance';
import { Room } from '@vnf/rooms';
import { startBrokerNetworks } from './support/brokerNetwork';

let networks: Awaited<ReturnType<typeof startBrokerNetworks>>;
beforeAll(async () => {
  networks = await startBrokerNetworks({ evaGraceMs: 1000 });
});
afterAll(() => networks.close());

it('bufferedAmount grows past the hub\'s highWaterMark under a burst, and drain fires once it is back below the low mark', async () => {
  const network = networks.network((webSocketHub) => webSocketHub);
  const rooms: Room[] = [];
  try {
    for (const eva of ['pace-a', 'pace-b']) {
      const { endpoint, registry } = await network.open(eva);
      const room = new Room(endpoint, { registry, name: 'pacing' });
      await room.join();
      rooms.push(room);
    }
    const [a, b] = rooms;
    let got = 0;
    b.onMessage = () => got++;
    await until('a to see b', 5000, () => a.members.size === 2);
    // Once a first broadcast arrived, a sends to b.
    let sent = 1;
    a.broadcast('first');
    await until('the first broadcast', 5000, () => got === 1);
    const chunk = 'x'.repeat(60_000);
    // Past WebSocketHub's highWaterMark (1 MiB): the socket cannot take that within one turn.
    const highWaterMark = 1024 * 1024;
    for (let i = 0; i < 1000 && a.bufferedAmount <= highWaterMark; i++) {
      a.broadcast(chunk);
      sent++;
    }
    expect(a.bufferedAmount).toBeGreaterThan(highWaterMark);
    await waitFor('the room\'s drain', 10_000, (done) => a.once('drain', () => done(undefined)));
    expect(a.bufferedAmount).toBeLessThanOrEqual(highWaterMark);
    await until('b to get every broadcast', 10_000, () => got === sent, () => `${got}/${sent}`);
  } finally {
    await Promise.all(rooms.map((r) => r.leave()));
    await network.close();
  }
});
