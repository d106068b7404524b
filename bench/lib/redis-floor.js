'use strict';
// The floor under the cluster's round trip: the Redis hops alone, no broker, no WebSocket. Two sides in the
// bench process, each with its own ioredis connections, in the shape of lib/cluster-systems.js's pair
// ({ a, b, close() }: a.send(s) arrives at b.onmessage(s) and back), so the RTT loop of scenarios/cluster.js
// measures them as it measures the systems.
//   redis streams  what the cluster's bus does between brokers: XADD to the peer's stream on one connection,
//                  the peer reading its stream with XREAD BLOCK on a connection of its own
//   redis pub/sub  what @socket.io/redis-adapter does: PUBLISH on one connection, the peer subscribed on another
// One message a turn crosses Redis twice per round trip (a → Redis → b → Redis → a), where the cluster adds
// these two crossings to one broker's path (a → A → Redis → B → b and back).
const { default: Redis } = require('ioredis');

function connection(url, name) {
  const redis = new Redis(url, { connectionName: name, maxRetriesPerRequest: null });
  redis.on('error', () => {});
  return redis;
}

/** One side on streams: writes to `<prefix>:<peer>`, reads `<prefix>:<id>` from the last id on. */
function streamSide(url, prefix, id, peer) {
  const writer = connection(url, `floor-${id}-w`);
  const reader = connection(url, `floor-${id}-r`);
  let open = true;
  let last = '$';
  const side = {
    onmessage: null,
    send: (s) => void writer.xadd(`${prefix}:${peer}`, '*', 'm', s),
    close: async () => {
      open = false;
      reader.disconnect();
      await writer.quit().catch(() => {});
    },
  };
  const loop = async () => {
    while (open) {
      let reply;
      try {
        reply = await reader.xread('COUNT', 64, 'BLOCK', 5000, 'STREAMS', `${prefix}:${id}`, last);
      } catch {
        if (!open) return;
        continue;
      }
      if (!reply) continue;
      for (const [, entries] of reply) {
        for (const [entryId, fields] of entries) {
          last = entryId;
          if (side.onmessage) side.onmessage(fields[1]);
        }
      }
      // Trimmed as the cluster trims: what was read goes.
      writer.xtrim(`${prefix}:${id}`, 'MINID', last).catch(() => {});
    }
  };
  side.ready = writer.ping().then(() => reader.ping()).then(() => void loop());
  return side;
}

/** One side on pub/sub: publishes to `<prefix>:<peer>`, subscribed to `<prefix>:<id>`. */
function pubsubSide(url, prefix, id, peer) {
  const pub = connection(url, `floor-${id}-pub`);
  const sub = connection(url, `floor-${id}-sub`);
  const side = {
    onmessage: null,
    send: (s) => void pub.publish(`${prefix}:${peer}`, s),
    close: async () => {
      sub.disconnect();
      await pub.quit().catch(() => {});
    },
  };
  sub.on('message', (_channel, message) => side.onmessage && side.onmessage(message));
  side.ready = sub.subscribe(`${prefix}:${id}`).then(() => pub.ping());
  return side;
}

const floor = (name, make) => ({
  name,
  async pair(redis, tag) {
    const prefix = `benchfloor:${tag}`;
    const a = make(redis.url, prefix, 'a', 'b');
    const b = make(redis.url, prefix, 'b', 'a');
    await Promise.all([a.ready, b.ready]);
    // The stream readers start from '$' (what is added after their first XREAD): let both be blocked first.
    await new Promise((resolve) => setTimeout(resolve, 50));
    return { a, b, close: () => Promise.all([a.close(), b.close()]) };
  },
});

module.exports = { floors: [floor('redis streams', streamSide), floor('redis pub/sub', pubsubSide)] };
