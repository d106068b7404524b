import { registryConformance, until, waitFor, type RegistryFixtureOptions } from '@vnf/conformance';
import { defaultAuthorize, type RegistryAuthorize, type RegistryClient, type Rpc } from '@vnf/core';
import type { Role } from '@vnf/protocol';
import { WebSocketRegistryClient } from '@vnf/registry';
import { WebSocketFactory, WebSocketHub, WebSocketRpc, type VnfSocket, type WebSocketEndpoint } from '@vnf/websocket-hub';
import { Broker } from '../src';

/** The conformance fixtures' rule: retained entries (and wills with a value) in `conformance-retained*` collections. */
const authorize: RegistryAuthorize = (subject, action, resource) =>
  resource.collection.startsWith('conformance-retained') || defaultAuthorize(subject, action, resource);

/** Nothing listens there: a socket to it fails at once, as a reconnect does while the network is down. */
const NOWHERE = new WebSocketFactory('ws://127.0.0.1:1/');

/** A factory whose sockets go nowhere while `blocked`: keeps a cut client from reconnecting until the test lets it. */
class GatedFactory extends WebSocketFactory {
  blocked = false;

  override create(): VnfSocket {
    return this.blocked ? NOWHERE.create() : super.create();
  }
}

interface Connected {
  client: RegistryClient;
  rpc: Rpc;
  factory: GatedFactory;
}

type Connect = (factory: GatedFactory, eva: string, closers: (() => Promise<void>)[]) => { client: RegistryClient; rpc: Rpc };

async function brokerFixture(role: Role, options: RegistryFixtureOptions, connect: Connect, connectAgain?: (eva: string) => RegistryClient) {
  const broker = new Broker({
    authorize,
    // Short, so that wills apply soon after a cut; the tests that interrupt clients ask for a grace they reconnect within.
    evaGraceMs: options.graceMs ?? 100,
    ...(options.maxLogEntries !== undefined && { registry: { maxLogEntries: options.maxLogEntries } }),
  });
  const { url } = await broker.listen({ port: 0, host: '127.0.0.1' });
  const closers: (() => Promise<void>)[] = [];
  const clients: RegistryClient[] = [];
  const connected = new Map<RegistryClient, Connected>();
  const track = (client: RegistryClient): RegistryClient => {
    clients.push(client);
    return client;
  };
  const resynced = (client: RegistryClient): Promise<void> =>
    waitFor(`${client.owner} resynced`, 10_000, (done) => (client as WebSocketRegistryClient).once('resynced', () => done(undefined)));
  /** Cuts the client's socket on the broker's side, without a close handshake, and keeps it from reconnecting. */
  const cut = async (client: RegistryClient): Promise<Connected> => {
    const it = connected.get(client)!;
    it.factory.blocked = true;
    const down = waitFor(`${client.owner} down`, 10_000, (done) => {
      const stop = it.rpc.onStateChange((state) => {
        if (state !== 'down') return;
        stop();
        done(undefined);
      });
    });
    if (!broker.terminate(client.owner, role)) throw new Error(`No ${role} socket of ${client.owner} on the broker to cut.`);
    await down;
    return it;
  };
  return {
    connect: (eva: string) => {
      // A factory per client, so that a test can hold back one client's reconnects.
      const factory = new GatedFactory(url, { reconnect: { initialDelayMs: 20, maxDelayMs: 200 } });
      const made = connect(factory, eva, closers);
      connected.set(made.client, { ...made, factory });
      return track(made.client);
    },
    ...(connectAgain && { connectAgain: (eva: string) => track(connectAgain(eva)) }),
    // Cut, and no reconnect within the grace: the broker ends the session (wills apply); then the client comes back.
    async dropUncleanly(client: RegistryClient) {
      const it = await cut(client);
      await until('the grace of the cut socket to end', 10_000, () => broker.reservedCount === 0);
      const back = resynced(client);
      it.factory.blocked = false;
      await back;
    },
    // Cut, and back within the grace with its session token: the same session.
    async interrupt(client: RegistryClient, whileDown?: () => Promise<void>) {
      const it = await cut(client);
      await whileDown?.();
      if (broker.reservedCount === 0) throw new Error('The grace ended before the client could come back: give the fixture a longer graceMs.');
      const back = resynced(client);
      it.factory.blocked = false;
      await back;
    },
    close: async () => {
      await Promise.all(clients.map((client) => client.close()));
      for (const close of closers) await close();
      await broker.close();
    },
  };
}

registryConformance('WebSocketRegistryClient over WebSocketRpc (own socket)', {
  createRegistry: (options = {}) =>
    brokerFixture('rpc', options, (factory, eva) => {
      const rpc = new WebSocketRpc(eva, factory);
      return { client: new WebSocketRegistryClient(rpc), rpc };
    }),
  timeoutMs: 10_000,
});

registryConformance('WebSocketRegistryClient over endpoint.getWebSocketRpc()', {
  createRegistry: (options = {}) => {
    // A second client of an eva shares that eva's endpoint socket: the broker's shared-owner case.
    const endpoints = new Map<string, WebSocketEndpoint>();
    return brokerFixture(
      'endpoint',
      options,
      (factory, eva, closers) => {
        const hub = new WebSocketHub(factory);
        closers.push(() => hub.close());
        const endpoint = hub.openEndpoint(eva);
        endpoints.set(eva, endpoint);
        const rpc = endpoint.getWebSocketRpc();
        return { client: new WebSocketRegistryClient(rpc), rpc };
      },
      (eva) => new WebSocketRegistryClient(endpoints.get(eva)!.getWebSocketRpc()),
    );
  },
  timeoutMs: 10_000,
});
