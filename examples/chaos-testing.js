'use strict';
// Chaos-testing your own code with UnreliableHub, and replaying a failure from its seed.
//
// The code under test is a tiny request/response protocol (CounterClient, CounterServer) of the kind apps build on
// VNF. Its promise: every `increment()` counts exactly once, even when the network drops, duplicates and reorders
// messages. The test runs it through an UnreliableHub and checks that promise.
//
//   node examples/chaos-testing.js                         a new random seed each run (CI keeps exploring)
//   node examples/chaos-testing.js --buggy                 a server that forgets to deduplicate: fails, prints its seed
//   CHAOS_SEED=<seed> node examples/chaos-testing.js --buggy   replays exactly that failure
const Vnf = require('vnf');

const CALLS = 40;
const RETRY_AFTER_MS = 800;
const MAX_ATTEMPTS = 20;

// ---- the code under test --------------------------------------------------------------------------------------

/** Sends `increment` requests one at a time, retrying with the same id until the answer arrives. */
class CounterClient {
  constructor(endpoint, serverEva) {
    this.endpoint = endpoint;
    this.serverEva = serverEva;
    this.nextId = 1;
    this.pending = new Map();
    endpoint.onMessage = (event) => {
      const answer = JSON.parse(event.message);
      const pending = this.pending.get(answer.id);
      // Duplicated or late answers of calls already settled are ignored.
      if (!pending) return;
      this.pending.delete(answer.id);
      clearTimeout(pending.timer);
      pending.resolve(answer.value);
    };
  }

  increment() {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const pending = { resolve, timer: null, attempts: 0 };
      const attempt = () => {
        if (++pending.attempts > MAX_ATTEMPTS) {
          this.pending.delete(id);
          reject(new Error(`request ${id} unanswered after ${MAX_ATTEMPTS} attempts`));
          return;
        }
        this.endpoint.send(this.serverEva, JSON.stringify({ id, op: 'increment' }));
        // Long enough that only a lost message (not a slow one, even on a loaded machine) causes a retry: a retry
        // shifts every later message's chaos decisions, so replays stay exact only if timing never causes one.
        pending.timer = setTimeout(attempt, RETRY_AFTER_MS);
      };
      this.pending.set(id, pending);
      attempt();
    });
  }
}

/** Counts increments. A retried or duplicated request must not count twice: answers are remembered by request id. */
class CounterServer {
  constructor(endpoint, { deduplicate = true } = {}) {
    this.count = 0;
    const answered = new Map();
    endpoint.onMessage = (event) => {
      const request = JSON.parse(event.message);
      const key = `${event.sourceEva}:${request.id}`;
      if (deduplicate && answered.has(key)) {
        endpoint.send(event.sourceEva, answered.get(key));
        return;
      }
      this.count += 1;
      const answer = JSON.stringify({ id: request.id, value: this.count });
      answered.set(key, answer);
      endpoint.send(event.sourceEva, answer);
    };
  }
}

// ---- the chaos test -------------------------------------------------------------------------------------------

async function main() {
  const buggy = process.argv.includes('--buggy');
  // No CHAOS_SEED: a random seed, which UnreliableHub picks and reports as hub.seed.
  const hub = new Vnf.UnreliableHub(new Vnf.InBrowserHub(), {
    seed: process.env.CHAOS_SEED,
    drop: 0.08,
    duplicate: 0.05,
    reorder: 0.05,
    latencyMs: 2,
    jitterMs: 10,
  });
  const replay = `CHAOS_SEED=${hub.seed} node examples/chaos-testing.js${buggy ? ' --buggy' : ''}`;
  try {
    const server = new CounterServer(hub.openEndpoint('counter-server'), { deduplicate: !buggy });
    const clientEndpoint = hub.openEndpoint('counter-client');
    const connected = await clientEndpoint.openConnection('counter-server');
    if (connected.status !== 'CONNECTED') throw new Error(`cannot connect: ${connected.status} ${connected.reason ?? ''}`);
    const client = new CounterClient(clientEndpoint, 'counter-server');

    for (let i = 0; i < CALLS; i++) await client.increment();

    const stats = hub.chaos.stats();
    const summary = `sent ${stats.sent}, dropped ${stats.dropped}, duplicated ${stats.duplicated}, reordered ${stats.reordered}`;
    if (server.count !== CALLS) {
      console.error(`FAILED: the server counted ${server.count} increments for ${CALLS} calls (chaos seed ${hub.seed}; ${summary}).`);
      console.error(`Replay exactly this run with: ${replay}`);
      process.exitCode = 1;
    } else {
      console.info(`ok: ${CALLS} calls counted exactly once (chaos seed ${hub.seed}; ${summary}).`);
    }
  } catch (err) {
    console.error(`FAILED: ${err.message} (chaos seed ${hub.seed}). Replay with: ${replay}`);
    process.exitCode = 1;
  } finally {
    await hub.close();
  }
}

main();
