import { hubConformance, integrityConformance } from '@vnf/conformance';
import { InBrowserHub } from '@vnf/in-browser-hub';
import { MarshallerHub } from '@vnf/marshaller-hub';
import { UnreliableHub } from '@vnf/unreliable-hub';
import { WebSocketHub } from '@vnf/websocket-hub';
import { Identity, SecureHub } from '../src';
import { startBroker, type RunningBroker } from './support/broker';
import { secureGroups } from './support/groupForgery';

// One identity per hub: every endpoint of a hub speaks for it (tests pair endpoints of one hub).
const secure = <H extends ConstructorParameters<typeof SecureHub>[0]>(inner: H, options = {}) =>
  new SecureHub(inner, { identity: Identity.generate(), ...options });

// A turn's multicasts to one target set are one record under that set's key (README, Sender keys).
const grouped = { multicastGroupedPerTargetSet: true };

hubConformance('SecureHub(InBrowserHub)', { createHub: () => secure(new InBrowserHub()), ...grouped });

hubConformance('MarshallerHub(SecureHub(InBrowserHub))', { createHub: () => new MarshallerHub(secure(new InBrowserHub())), payloads: 'json', ...grouped });

// A lossy-inner setting over an inner hub that delivers every record twice: the replay window keeps exactly once.
// Every record, not a share of them: a turn's messages leave as one record, so a test's burst is a few records.
hubConformance('SecureHub(UnreliableHub(InBrowserHub)) with duplicates, ordered: false', {
  createHub: () => secure(new UnreliableHub(new InBrowserHub(), { seed: 1717, duplicate: 1 }), { ordered: false }),
  ...grouped,
});

let running: RunningBroker | undefined;
afterAll(() => running?.close());

hubConformance('SecureHub(WebSocketHub) through a real broker', {
  createHub: async () => {
    running ??= await startBroker();
    return secure(new WebSocketHub(running.factory()));
  },
  timeoutMs: 10_000,
  cutTransport: (endpoint) => {
    running!.broker.terminate(endpoint.eva);
  },
  ...grouped,
});

// Tamper, replay, reorder and forgery of one record directly beneath SecureHub, over an ordered inner hub.
integrityConformance('SecureHub(InBrowserHub)', {
  createHub: (beneath) => secure(beneath(new InBrowserHub())),
  acknowledges: true,
  groups: secureGroups,
  // Three hubs with their own identities on one InBrowserHub network.
  createIdentities: () => {
    const network = new InBrowserHub();
    return [secure(network), secure(network), secure(network)];
  },
});
integrityConformance('MarshallerHub(SecureHub(WebSocketHub)) through a real broker', {
  createHub: async (beneath) => {
    running ??= await startBroker();
    return new MarshallerHub(secure(beneath(new WebSocketHub(running.factory()))));
  },
  groups: secureGroups,
  timeoutMs: 10_000,
});
// Multicasts as one pairwise record per target: the integrity rules hold for them too.
integrityConformance('SecureHub(InBrowserHub) with senderKeys: off', {
  createHub: (beneath) => secure(beneath(new InBrowserHub()), { senderKeys: 'off' }),
});
