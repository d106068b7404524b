import { afterAll, beforeAll } from '@jest/globals';
import { registryConformance, waitFor } from '@vnf/conformance';
import { defaultAuthorize, type RegistryAuthorize, type RegistryClient } from '@vnf/core';
import {
  DEFAULT_MAX_BYTES_PER_OWNER,
  DEFAULT_MAX_ENTRIES_PER_OWNER,
  DEFAULT_MAX_KEY_LENGTH,
  DEFAULT_MAX_VALUE_BYTES,
  InBrowserRegistry,
  RegistryRules,
  RegistryService,
  WebSocketRegistryClient,
} from '@vnf/registry';
import { RedisRegistryStorage } from '../../src/RedisRegistryStorage';
import { LoopbackRpc } from '../../../registry/test/loopbackRpc';
import { describeWithRedis, startRedis, type RedisServer } from '../support/redisServer';

/*
 * The registry's own suites (registryConformance with its coordination tests) over RegistryRules over
 * RedisRegistryStorage, in both ways a broker serves the registry (InBrowserRegistry, and RegistryService with
 * WebSocketRegistryClient). On a storage whose calls take real time a change can land in the middle of a pass over
 * waiting writes; WriteWaiters' pass state (PassState) keeps "first come, first served" then too.
 */

let server: RedisServer;
let prefixes = 0;
const run = Math.random().toString(36).slice(2, 8);
const uniquePrefix = (): string => `rules-${run}-${prefixes++}:`;

const LIMITS = {
  maxValueBytes: DEFAULT_MAX_VALUE_BYTES,
  maxEntriesPerOwner: DEFAULT_MAX_ENTRIES_PER_OWNER,
  maxKeyLength: DEFAULT_MAX_KEY_LENGTH,
  maxBytesPerOwner: DEFAULT_MAX_BYTES_PER_OWNER,
};

/** The conformance fixtures' rule: retained entries (and wills with a value) in `conformance-retained*` collections. */
const authorize: RegistryAuthorize = (subject, action, resource) =>
  resource.collection.startsWith('conformance-retained') || defaultAuthorize(subject, action, resource);

function storage(options: { changeLogLength?: number } = {}): RedisRegistryStorage {
  return new RedisRegistryStorage({ redis: server.url, keyPrefix: uniquePrefix(), ...options });
}

describeWithRedis('registry suites over RegistryRules over RedisRegistryStorage', () => {
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(() => server?.stop());

  // Every registry rule (conditional writes, waits, wills, locks, watches, the log's replay) over this storage.
  registryConformance('InBrowserRegistry over RegistryRules over RedisRegistryStorage', {
    createRegistry(options = {}) {
      const store = storage({ ...(options.maxLogEntries !== undefined && { changeLogLength: options.maxLogEntries }) });
      const rules = new RegistryRules(store, LIMITS);
      const registry = new InBrowserRegistry({ store: rules, authorize });
      const clients: RegistryClient[] = [];
      const connect = (eva: string): RegistryClient => {
        const client = registry.connect(eva);
        clients.push(client);
        return client;
      };
      return {
        connect,
        connectAgain: connect,
        dropUncleanly: (client) => registry.drop(client),
        async close() {
          await Promise.all(clients.map((client) => client.close()));
          await rules.close();
          await store.close();
        },
      };
    },
  });

  // As the broker runs it: RegistryService sessions over the rules, clients over an rpc that can drop and resume.
  registryConformance('WebSocketRegistryClient + RegistryService over RedisRegistryStorage', {
    createRegistry(options = {}) {
      const store = storage({ ...(options.maxLogEntries !== undefined && { changeLogLength: options.maxLogEntries }) });
      const rules = new RegistryRules(store, LIMITS);
      const service = new RegistryService(rules, { authorize });
      const clients: RegistryClient[] = [];
      const rpcs = new Map<string, LoopbackRpc>();
      const rpcOf = new Map<RegistryClient, LoopbackRpc>();
      const resynced = (client: RegistryClient): Promise<void> =>
        waitFor(`${client.owner} resynced`, 10_000, (done) => (client as WebSocketRegistryClient).once('resynced', () => done(undefined)));
      const track = (client: WebSocketRegistryClient, rpc: LoopbackRpc): WebSocketRegistryClient => {
        clients.push(client);
        rpcOf.set(client, rpc);
        return client;
      };
      return {
        connect(eva) {
          const rpc = new LoopbackRpc(service, eva);
          rpcs.set(eva, rpc);
          return track(new WebSocketRegistryClient(rpc), rpc);
        },
        connectAgain(eva) {
          const rpc = rpcs.get(eva)!;
          rpc.shared = true;
          return track(new WebSocketRegistryClient(rpc), rpc);
        },
        async dropUncleanly(client) {
          const rpc = rpcOf.get(client)!;
          await rpc.drop({ unclean: true });
          const back = resynced(client);
          rpc.restore();
          await back;
        },
        async interrupt(client, whileDown) {
          const rpc = rpcOf.get(client)!;
          rpc.interrupt();
          await whileDown?.();
          const back = resynced(client);
          rpc.resume();
          await back;
        },
        async close() {
          await Promise.all(clients.map((client) => client.close()));
          for (const rpc of rpcs.values()) {
            rpc.shared = false;
            await rpc.close();
          }
          await rules.close();
          await store.close();
        },
      };
    },
  });

});
