import { afterAll, beforeAll, expect, it, jest } from '@jest/globals';
import * as Vnf from 'vnf';
import { startBroker } from './support/broker';
import { until } from './support/until';

// The seed's (003) RtcHub snippets as written, with the broker's URL for "wss://<server-host-name>/webbroker/vnf-ws".
let broker: Awaited<ReturnType<typeof startBroker>>;
beforeAll(async () => {
  broker = await startBroker();
});
afterAll(() => broker.stop());

it('seed: RtcHub over a WebSocketHub, the rest as for InBrowserHub', async () => {
  const info = jest.spyOn(console, 'info').mockImplementation(() => undefined);
  try {
    const webSocketFactory = new Vnf.WebSocketFactory(broker.url);
    const vnfHub = new Vnf.RtcHub(new Vnf.WebSocketHub(webSocketFactory));
    const endpoint1 = vnfHub.openEndpoint('endpoint1-name');
    const endpoint2 = vnfHub.openEndpoint('endpoint2-name');
    endpoint1.onMessage = function (event) {
      console.info('Endpoint-1 got a message from endpoint ' + event.sourceEva + ', message is: ' + event.message);
      if (event.message == 'I am good!') {
        console.info('Endpoint 1 is closing connection to ' + event.sourceEva);
        endpoint1.closeConnection(event.sourceEva);
      }
    };
    endpoint2.onMessage = function (event) {
      console.info('Endpoint-2 got a message from endpoint ' + event.sourceEva + ', message is: ' + event.message);
      if (event.message == 'How are you?') {
        endpoint2.send(event.sourceEva, 'I am good!');
      }
    };
    endpoint2.onConnectionLost(function (targetEva) {
      console.info('Endpoint-2 lost connection to ' + targetEva + ', releasing endpoints');
      endpoint1.destroy();
      endpoint2.destroy();
    });
    endpoint1.openConnection('endpoint2-name', function (event) {
      if (event.status != 'CONNECTED') return;
      console.info('Endpoint-1 established connection to ' + event.targetEva + ', status is: ' + event.status);
      endpoint1.send(event.targetEva, 'How are you?');
    });
    await until('both endpoints released', 30_000, () => endpoint1.destroyed && endpoint2.destroyed);
    await vnfHub.close();
    expect(info.mock.calls.map((call) => call[0])).toEqual([
      'Endpoint-1 established connection to endpoint2-name, status is: CONNECTED',
      'Endpoint-2 got a message from endpoint endpoint1-name, message is: How are you?',
      'Endpoint-1 got a message from endpoint endpoint2-name, message is: I am good!',
      'Endpoint 1 is closing connection to endpoint2-name',
      'Endpoint-2 lost connection to endpoint1-name, releasing endpoints',
    ]);
  } finally {
    info.mockRestore();
  }
}, 60_000);

it('seed: MarshallerHub(ReliableRtcHub(webSocketHub)) shares endpoint1\'s socket with a registry client', async () => {
  const collection1Name = 'rtc-seed';
  const webSocketFactory = new Vnf.WebSocketFactory(broker.url);
  const webSocketHub = new Vnf.WebSocketHub(webSocketFactory);
  const vnfHub = new Vnf.MarshallerHub(new Vnf.ReliableRtcHub(webSocketHub));
  const endpoint1 = vnfHub.openEndpoint('endpoint1-name');
  const webSocketRpc = webSocketHub.openEndpoint('endpoint1-name').getWebSocketRpc();
  const registryClient = new Vnf.WebSocketRegistryClient(webSocketRpc);
  const value = await Promise.resolve()
    .then(registryClient.createEntry.bind(null, { collection: collection1Name, name: 'entry1' }, 'entry value'))
    .then(function (status) {
      expect(status).toBe(Vnf.Global.OK);
    })
    .then(registryClient.getEntry.bind(null, { collection: collection1Name, name: 'entry1' }));
  expect(value).toBe('entry value');
  expect(endpoint1.eva).toBe('endpoint1-name');
  await registryClient.close();
  await vnfHub.close();
}, 60_000);
