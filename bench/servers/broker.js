'use strict';
// The VNF broker with its defaults, on 127.0.0.1 and a free port. One change: the per-socket flood
// limit (default 200 000 msg/s) is lifted, because the raw relays it is compared with have none and a
// benchmark sender is a flood by design.
const { loadVnf } = require('../lib/vnf');

exports.start = async () => {
  const { Broker } = loadVnf('broker', ['Broker']);
  const broker = new Broker({ maxMessagesPerSecond: 1e9 });
  const address = await broker.listen({ port: 0, host: '127.0.0.1' });
  return {
    url: address.url,
    close: () => broker.close(),
  };
};
