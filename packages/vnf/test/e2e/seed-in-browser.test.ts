// The seed's snippets (shared/seeds/003), run as written in pages that load only dist/vnf.min.js. The broker's
// real URL replaces "wss://<server-host-name>/webbroker/vnf-ws"; "Rest part the same as …" is that part, copied.
import { Broker } from '@vnf/broker';
import type { Browser } from 'playwright-core';
import { BROKER_PATH, collectConsole, describeWithChromium, ensureBrowserBundle, launchChromium, startPageServer, type PageServer } from './helpers';
import { PUBLIC_API } from '../publicApi';

const SEED_URL = '"wss://<server-host-name>/webbroker/vnf-ws"';

const SEED = `
// Creating in browser hub of endpoints
const vnfHub = new Vnf.InBrowserHub()
// Creating endpoint in hub
const endpoint1 = vnfHub.openEndpoint("endpoint1-name")
const endpoint2 = vnfHub.openEndpoint("endpoint2-name")
` + restOfHubSeed();

/** The part of the InBrowserHub snippet the other hub snippets refer to as "Rest part the same as InBrowserHub". */
function restOfHubSeed(): string {
  return `// Listening to messages
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
`;
}

const HUB_SEEDS: Record<string, string> = {
  WebSocketHub: `
// Creating in browser hub of endpoints
const vnfHub = new Vnf.WebSocketHub(new Vnf.WebSocketFactory(${SEED_URL}));
// Creating endpoint in hub
const endpoint1 = vnfHub.openEndpoint("endpoint1-name")
const endpoint2 = vnfHub.openEndpoint("endpoint2-name")
`,
  RtcHub: `
// Creating in browser hub of endpoints
const webSocketFactory = new Vnf.WebSocketFactory(${SEED_URL})
const vnfHub = new Vnf.RtcHub(new Vnf.WebSocketHub(webSocketFactory));
// Creating endpoint in hub
const endpoint1 = vnfHub.openEndpoint("endpoint1-name")
const endpoint2 = vnfHub.openEndpoint("endpoint2-name")
`,
  'MarshallerHub(ReliableRtcHub)': `
// Creating in browser hub of endpoints
const webSocketFactory = new Vnf.WebSocketFactory(${SEED_URL})
const vnfHub = new Vnf.MarshallerHub(new Vnf.ReliableRtcHub(new Vnf.WebSocketHub(webSocketFactory)));
// Creating endpoint in hub
const endpoint1 = vnfHub.openEndpoint("endpoint1-name")
const endpoint2 = vnfHub.openEndpoint("endpoint2-name")
`,
};

const REGISTRY_REST = `Promise.resolve()
.then(registryClient.createEntry.bind(null, {collection: collection1Name, name:"entry1"}, "entry value"))
.then(function(status) {
assert.equal(status, Vnf.Global.OK, "asserting status");
})
.then(registryClient.getEntry.bind(null, {collection: collection1Name, name:"entry1"}))
.then(function(value){
assert.equal(value, "entry value", "asserting inserted entry");
})
.then(done);
`;

const REGISTRY_SEEDS: Record<string, string> = {
  InBrowserRegistry: `const sharedRegistry = new Vnf.InBrowserRegistry();
const registryClient = sharedRegistry.connect("endpoint1-name")
`,
  'WebSocketRegistryClient(WebSocketRpc)': `const webSocketFactory = new Vnf.WebSocketFactory(${SEED_URL})
const registryClient = new Vnf.WebSocketRegistryClient(new Vnf.WebSocketRpc(eva, webSocketFactory))
`,
  'WebSocketRegistryClient(endpoint1.getWebSocketRpc())': `const webSocketFactory = new Vnf.WebSocketFactory(${SEED_URL})
const vnfHub = new Vnf.WebSocketHub(webSocketFactory);
// Creating endpoint in hub
const endpoint1 = vnfHub.openEndpoint("endpoint1-name")
const registryClient = new Vnf.WebSocketRegistryClient(endpoint1.getWebSocketRpc())
`,
  'WebSocketRegistryClient beside MarshallerHub(ReliableRtcHub)': `// Creating in browser hub of endpoints
const webSocketFactory = new Vnf.WebSocketFactory(${SEED_URL})
const webSocketHub = new Vnf.WebSocketHub(webSocketFactory)
const vnfHub = new Vnf.MarshallerHub(new Vnf.ReliableRtcHub(webSocketHub));
// Creating endpoint in hub
const endpoint1 = vnfHub.openEndpoint("endpoint1-name")
const webSocketRpc = webSocketHub.openEndpoint("endpoint1-name").getWebSocketRpc()
const registryClient = new Vnf.WebSocketRegistryClient(webSocketRpc)
`,
};

/** What the seed's test harness provided around the registry snippets: assert, a collection name, done, an eva. */
const REGISTRY_HARNESS = `
const assert = { equal(actual, expected, what) { if (actual != expected) throw new Error(what + ": " + actual + " != " + expected) } };
const collection1Name = "collection1";
const eva = "registry-client-1";
function done() { console.info("registry seed done") }
window.addEventListener("unhandledrejection", (event) => console.info("registry seed failed: " + (event.reason && event.reason.message)));
`;

const HANDSHAKE = [
  'Endpoint-1 established connection to endpoint2-name, status is: CONNECTED',
  'Endpoint-2 got a message from endpoint endpoint1-name, message is: How are you?',
  'Endpoint-1 got a message from endpoint endpoint2-name, message is: I am good!',
  'Endpoint 1 is closing connection to endpoint2-name',
  'Endpoint-2 lost connection to endpoint1-name, releasing endpoints',
];

describeWithChromium('window.Vnf bundle in Chromium', () => {
  let browser: Browser;
  let server: PageServer;
  let broker: Broker;

  beforeAll(async () => {
    ensureBrowserBundle();
    broker = new Broker();
    server = await startPageServer((http) => broker.attach(http, { path: BROKER_PATH }));
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await broker?.close();
    await server?.close();
  });

  const withBroker = (snippet: string) => snippet.split(SEED_URL).join(JSON.stringify(server.brokerUrl));

  it('defines window.Vnf with exactly the reviewed public API (test/publicApi.ts)', async () => {
    const page = await browser.newPage();
    await page.goto(server.url);
    const exported = await page.evaluate(() => Object.keys((window as unknown as { Vnf: object }).Vnf));
    expect([...exported].sort()).toEqual([...PUBLIC_API].sort());
    expect(exported).not.toContain('FrameWriter');
    await page.close();
  });

  it('the ES module build (dist/vnf.browser.mjs) imports in a page and works', async () => {
    const page = await browser.newPage();
    await page.goto(server.url);
    const received = await page.evaluate(async () => {
      // A string, so that TypeScript leaves the dynamic import of a URL alone.
      const Vnf = await (0, eval)('import("/vnf.browser.mjs")');
      const hub = new Vnf.MarshallerHub(new Vnf.InBrowserHub());
      const a = hub.openEndpoint('a');
      const b = hub.openEndpoint('b');
      const got = new Promise((resolve) => (b.onMessage = (event: { message: unknown }) => resolve(event.message)));
      await a.openConnection('b');
      a.send('b', { hello: 'from an ES module', bytes: new Uint8Array([1, 2]) });
      const message = (await got) as { hello: string; bytes: Uint8Array };
      await hub.close();
      return { hello: message.hello, bytes: Array.from(message.bytes) };
    });
    expect(received).toEqual({ hello: 'from an ES module', bytes: [1, 2] });
    await page.close();
  });

  it('SecureHub from the bundle: two pages talk through the broker end to end encrypted, each sees the other\'s fingerprint', async () => {
    const pages = [await browser.newPage(), await browser.newPage()];
    for (const page of pages) await page.goto(server.url);
    const open = (page: (typeof pages)[number], eva: string) =>
      page.evaluate(
        async ({ url, eva }) => {
          const Vnf = (window as unknown as { Vnf: any }).Vnf;
          const identity = Vnf.Identity.generate();
          const hub = new Vnf.SecureHub(new Vnf.WebSocketHub(new Vnf.WebSocketFactory(url)), { identity });
          const endpoint = hub.openEndpoint(eva);
          const got: unknown[] = [];
          endpoint.onMessage = (event: { message: unknown }) => got.push(event.message);
          Object.assign(window, { secure: { hub, endpoint, got, fingerprint: identity.fingerprint } });
          return identity.fingerprint as string;
        },
        { url: server.brokerUrl, eva },
      );
    const [fingerprintA, fingerprintB] = [await open(pages[0], 'secure-a'), await open(pages[1], 'secure-b')];
    const seen = await pages[0].evaluate(async () => {
      const { endpoint } = (window as unknown as { secure: any }).secure;
      const result = await endpoint.openConnection('secure-b');
      endpoint.send('secure-b', 'only for b');
      endpoint.send('secure-b', new Uint8Array([7, 8]));
      return { status: result.status, fingerprint: endpoint.peerIdentity('secure-b')?.fingerprint };
    });
    expect(seen).toEqual({ status: 'CONNECTED', fingerprint: fingerprintB });
    await pages[1].waitForFunction(() => (window as unknown as { secure: any }).secure.got.length === 2, undefined, { timeout: 30_000 });
    const received = await pages[1].evaluate(() => {
      const { endpoint, got } = (window as unknown as { secure: any }).secure;
      return { messages: [got[0], Array.from(got[1] as Uint8Array)], peer: endpoint.peerIdentity('secure-a')?.fingerprint };
    });
    expect(received).toEqual({ messages: ['only for b', [7, 8]], peer: fingerprintA });
    for (const page of pages) {
      await page.evaluate(() => (window as unknown as { secure: any }).secure.hub.close());
      await page.close();
    }
  }, 120_000);

  it("runs the seed's InBrowserHub snippet as written", async () => {
    const page = await browser.newPage();
    const consoleInfo = collectConsole(page, 'info');
    await page.goto(server.url);
    await page.addScriptTag({ content: SEED });
    await consoleInfo.waitFor('releasing endpoints');
    expect(consoleInfo.lines).toEqual(HANDSHAKE);
    expect(await page.evaluate('[endpoint1.destroyed, endpoint2.destroyed]')).toEqual([true, true]);
    await page.close();
  });

  it.each(Object.keys(HUB_SEEDS))("runs the seed's %s snippet, the rest as in InBrowserHub", async (name) => {
    const page = await browser.newPage();
    const consoleInfo = collectConsole(page, 'info');
    await page.goto(server.url);
    await page.addScriptTag({ content: withBroker(HUB_SEEDS[name]) + restOfHubSeed() });
    await consoleInfo.waitFor('releasing endpoints', 60_000);
    expect(consoleInfo.lines).toEqual(HANDSHAKE);
    await page.evaluate('vnfHub.close()');
    await page.close();
  }, 120_000);

  it.each(Object.keys(REGISTRY_SEEDS))("runs the seed's %s snippet", async (name) => {
    const page = await browser.newPage();
    const consoleInfo = collectConsole(page, 'info');
    await page.goto(server.url);
    await page.addScriptTag({ content: REGISTRY_HARNESS + withBroker(REGISTRY_SEEDS[name]) + REGISTRY_REST });
    await consoleInfo.waitFor('registry seed', 60_000);
    expect(consoleInfo.lines).toEqual(['registry seed done']);
    await page.evaluate('registryClient.close()');
    await page.close();
  }, 120_000);
});
