'use strict';
// Shared by the seed scripts: a local broker, and a deadline so that a hung connection fails the script.

/** A broker on 127.0.0.1, a free port. Its URL stands in for the seed's "wss://<server-host-name>/webbroker/vnf-ws". */
async function startBroker() {
  const { Broker } = require('@vnf/broker');
  const broker = new Broker();
  const { url } = await broker.listen({ port: 0, host: '127.0.0.1' });
  return { url, close: broker.close };
}

/** Exits with an error if the script has not finished in time. */
function deadline(ms = 30_000) {
  setTimeout(() => {
    console.error(`did not finish within ${ms} ms`);
    process.exit(1);
  }, ms).unref();
}

module.exports = { startBroker, deadline };
