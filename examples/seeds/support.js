'use strict';
// Shared by the seed scripts: a local broker, and a deadline so that a hung connection fails the script.

/**
 * The broker whose URL stands in for the seed's "wss://<server-host-name>/webbroker/vnf-ws": the one named by
 * VNF_BROKER_URL (e.g. started with `npx vnf-broker`), or else one started here on 127.0.0.1, a free port.
 */
async function startBroker() {
  if (process.env.VNF_BROKER_URL) return { url: process.env.VNF_BROKER_URL, close: async () => undefined };
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
