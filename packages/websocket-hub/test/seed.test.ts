// The seed's WebSocketHub snippet (shared/seeds/003), run as written against a real broker.
// Only `Vnf` (this package's exports, with the factory pointed at the test broker) and `console` are provided.
import * as WebSocketHubPackage from '../src';
import { startBroker, type RunningBroker } from './brokerFixture';

let running: RunningBroker;
beforeAll(async () => {
  running = await startBroker();
});
afterAll(() => running.close());

describe('seed snippet: WebSocketHub chat handshake', () => {
  it('runs as written: handshake, reply, close, lost, destroy', async () => {
    const url = running.url;
    // The seed's URL is a placeholder; point it at the test broker, everything else is the package's export.
    const Vnf = {
      ...WebSocketHubPackage,
      WebSocketFactory: class extends WebSocketHubPackage.WebSocketFactory {
        constructor(_placeholder: string) {
          super(url);
        }
      },
    };
    const lines: string[] = [];
    let released!: () => void;
    let timer!: ReturnType<typeof setTimeout>;
    const finished = new Promise<void>((resolve, reject) => {
      released = resolve;
      timer = setTimeout(() => reject(new Error(`seed snippet did not finish; log: ${JSON.stringify(lines)}`)), 15_000);
    });
    const console = {
      info: (line: string) => {
        lines.push(line);
        if (line.includes('releasing endpoints')) released();
      },
    };

    // ---- seed begins ----
    // Creating in browser hub of endpoints
    const vnfHub = new Vnf.WebSocketHub(new Vnf.WebSocketFactory("wss://<server-host-name>/webbroker/vnf-ws"));
    // Creating endpoint in hub
    const endpoint1 = vnfHub.openEndpoint("endpoint1-name")
    const endpoint2 = vnfHub.openEndpoint("endpoint2-name")
    // Rest part the same as InBrowserHub
    // Listening to messages
    endpoint1.onMessage = function(event) {
    console.info("Endpoint-1 got a message from endpoint " + event.sourceEva + ", message is: " + event.message)
    if(event.message == "I am good!") {
    console.info("Endpoint 1 is closing connection to " + event.sourceEva)
    endpoint1.closeConnection(event.sourceEva)
    }
    }
    endpoint2.onMessage = function(event) {
    console.info("Endpoint-2 got a message from endpoint " + event.sourceEva + ", message is: " + event.message)
    if(event.message == "How are you?") {
    endpoint2.send(event.sourceEva, "I am good!")
    }
    }
    // Handling close connection and releasing endpoints
    endpoint2.onConnectionLost(function(targetEva){
    console.info("Endpoint-2 lost connection to " + targetEva + ", releasing endpoints")
    endpoint1.destroy()
    endpoint2.destroy()
    })
    // Open connection and sending handshake message
    endpoint1.openConnection("endpoint2-name", function(event){
    if(event.status != "CONNECTED") return;
    console.info("Endpoint-1 established connection to " + event.targetEva + ", status is: " + event.status)
    endpoint1.send(event.targetEva, "How are you?")
    })
    // ---- seed ends ----

    try {
      await finished;
    } finally {
      clearTimeout(timer);
    }
    expect(lines).toEqual([
      'Endpoint-1 established connection to endpoint2-name, status is: CONNECTED',
      'Endpoint-2 got a message from endpoint endpoint1-name, message is: How are you?',
      'Endpoint-1 got a message from endpoint endpoint2-name, message is: I am good!',
      'Endpoint 1 is closing connection to endpoint2-name',
      'Endpoint-2 lost connection to endpoint1-name, releasing endpoints',
    ]);
    expect(endpoint1.destroyed).toBe(true);
    expect(endpoint2.destroyed).toBe(true);
    await vnfHub.close();
  });
});
