// The seed's InBrowserHub snippet (shared/seeds/003), copied as written. Only `Vnf` and `console` are provided.
import * as InBrowser from '../src';

describe('seed snippet: InBrowserHub chat handshake', () => {
  it('runs as written: handshake, reply, close, lost, destroy', async () => {
    const Vnf = { ...InBrowser };
    const lines: string[] = [];
    let released!: () => void;
    const finished = new Promise<void>((resolve, reject) => {
      released = resolve;
      setTimeout(() => reject(new Error(`seed snippet did not finish; log: ${JSON.stringify(lines)}`)), 5000).unref();
    });
    const console = {
      info: (line: string) => {
        lines.push(line);
        if (line.includes('releasing endpoints')) released();
      },
    };

    // ---- seed begins ----
    // Creating in browser hub of endpoints
    const vnfHub = new Vnf.InBrowserHub()
    // Creating endpoint in hub
    const endpoint1 = vnfHub.openEndpoint("endpoint1-name")
    const endpoint2 = vnfHub.openEndpoint("endpoint2-name")
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

    await finished;
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
