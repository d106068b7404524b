// Two Chromium pages (and a page and Node) talking through a real broker with the window.Vnf bundle:
// over WebSocketHub, over RtcHub (a direct data channel), and over the chat stack MarshallerHub(ReliableRtcHub(WebSocketHub)).
import { Broker } from '@vnf/broker';
import { RtcHub, type RtcEndpoint } from '@vnf/rtc-hub';
import { WebSocketFactory, WebSocketHub } from '@vnf/websocket-hub';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { BROKER_PATH, describeWithChromium, ensureBrowserBundle, launchChromium, startPageServer, type PageServer } from './helpers';

type Stack = 'ws' | 'rtc' | 'chat';

/** Page-side helpers, installed once per page: the three stacks, an echo peer and a caller. */
const PAGE_LIB = `
window.e2e = {
  makeHub(stack, url) {
    const webSocketHub = new Vnf.WebSocketHub(new Vnf.WebSocketFactory(url));
    if (stack === 'ws') return webSocketHub;
    if (stack === 'rtc') return new Vnf.RtcHub(webSocketHub);
    return new Vnf.MarshallerHub(new Vnf.ReliableRtcHub(webSocketHub));
  },
  // The RtcEndpoint beneath an endpoint of any stack, to ask which path its messages take.
  rtcEndpoint(hub, stack, endpoint) {
    if (stack === 'rtc') return endpoint;
    // MarshallerHub → ReliableRtcHub → RtcHub; opening the eva again on an inner hub returns the shared endpoint.
    if (stack === 'chat') return hub.inner.inner.openEndpoint(endpoint.eva);
    return null;
  },
  // Binary arrives as Uint8Array; describe it so that Node can compare it.
  plain(message) {
    if (message instanceof Uint8Array) return { binary: Array.from(message.subarray(0, 8)), length: message.length };
    if (message && typeof message === 'object' && message.blob instanceof Uint8Array) return { ...message, blob: { length: message.blob.length, sum: message.blob.reduce((a, b) => (a + b) % 65521, 0) } };
    return message;
  },
  // Opens a connection, retrying while the peer's eva is not registered with the broker yet.
  async connect(endpoint, target) {
    for (let attempt = 0; attempt < 40; attempt++) {
      const event = await endpoint.openConnection(target);
      if (event.status === 'CONNECTED' || event.reason !== 'NOT_FOUND') return event;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    return { status: 'FAILED', reason: 'NOT_FOUND after retries' };
  },
};
`;

function messagesFor(stack: Stack): string {
  // Evaluated in the page: the wire hubs carry strings and binary; the chat stack carries JSON and large binary.
  return stack === 'chat'
    ? `['hello', { text: 'an object', n: [1, 2, 3] }, new Uint8Array([1, 2, 3]), { blob: new Uint8Array(1024 * 1024).map((_, i) => i % 251) }, 'last']`
    : `['hello', new Uint8Array([1, 2, 3, 250]), 'é 🚀 unicode', 'last']`;
}

function expectedFor(stack: Stack): unknown[] {
  if (stack === 'chat') {
    let sum = 0;
    for (let i = 0; i < 1024 * 1024; i++) sum = (sum + (i % 251)) % 65521;
    return ['hello', { text: 'an object', n: [1, 2, 3] }, { binary: [1, 2, 3], length: 3 }, { blob: { length: 1024 * 1024, sum } }, 'last'];
  }
  return ['hello', { binary: [1, 2, 3, 250], length: 4 }, 'é 🚀 unicode', 'last'];
}

describeWithChromium('hubs between Chromium pages and Node, through the broker', () => {
  let browser: Browser;
  let server: PageServer;
  let broker: Broker;
  let contexts: BrowserContext[] = [];

  beforeAll(async () => {
    ensureBrowserBundle();
    broker = new Broker();
    server = await startPageServer((http) => broker.attach(http, { path: BROKER_PATH }));
    browser = await launchChromium();
  }, 120_000);

  afterEach(async () => {
    await Promise.all(contexts.map((context) => context.close()));
    contexts = [];
  });

  afterAll(async () => {
    await browser?.close();
    await broker?.close();
    await server?.close();
  });

  async function openPage(): Promise<Page> {
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(server.url);
    await page.addScriptTag({ content: PAGE_LIB });
    return page;
  }

  it.each<Stack>(['ws', 'rtc', 'chat'])('two pages exchange messages over the %s stack', async (stack) => {
    const echo = await openPage();
    const caller = await openPage();
    const echoEva = `echo-${stack}`;
    const callerEva = `caller-${stack}`;

    await echo.evaluate(
      ({ stack, url, eva }) => {
        const w = window as any;
        w.hub = w.e2e.makeHub(stack, url);
        w.endpoint = w.hub.openEndpoint(eva);
        w.lost = [];
        w.endpoint.onMessage = (event: any) => w.endpoint.send(event.sourceEva, event.message);
        w.endpoint.onConnectionLost((peer: string) => w.lost.push(peer));
      },
      { stack, url: server.brokerUrl, eva: echoEva },
    );

    const result = await caller.evaluate(
      async ({ stack, url, eva, target, messages }) => {
        const w = window as any;
        w.hub = w.e2e.makeHub(stack, url);
        const endpoint = w.hub.openEndpoint(eva);
        const toSend = (0, eval)(messages);
        const received: unknown[] = [];
        const allBack = new Promise<void>((resolve) => {
          endpoint.onMessage = (event: any) => {
            received.push(w.e2e.plain(event.message));
            if (received.length === toSend.length) resolve();
          };
        });
        const connected = await w.e2e.connect(endpoint, target);
        if (connected.status !== 'CONNECTED') return { connected, received, path: null };
        for (const message of toSend) endpoint.send(target, message);
        await Promise.race([allBack, new Promise((resolve) => setTimeout(resolve, 60_000))]);
        const rtc = w.e2e.rtcEndpoint(w.hub, stack, endpoint);
        const path = rtc ? rtc.path(target) : null;
        endpoint.closeConnection(target);
        return { connected, received, path };
      },
      { stack, url: server.brokerUrl, eva: callerEva, target: echoEva, messages: messagesFor(stack) },
    );

    expect(result.connected.status).toBe('CONNECTED');
    if (stack === 'chat') {
      // MarshallerHub lets small messages overtake a large one in transfer (no head-of-line blocking).
      expect(result.received).toHaveLength(expectedFor(stack).length);
      expect(result.received).toEqual(expect.arrayContaining(expectedFor(stack)));
    } else {
      expect(result.received).toEqual(expectedFor(stack));
    }
    // RtcHub must really have made a data channel between the pages, not fallen back to the broker.
    if (stack !== 'ws') expect(result.path).toBe('direct');
    await echo.waitForFunction((peer) => (window as any).lost.includes(peer), callerEva, { timeout: 60_000 });
    await Promise.all([echo, caller].map((page) => page.evaluate(() => (window as any).hub.close())));
  }, 180_000);

  it('a page and a Node process talk over RtcHub (@roamhq/wrtc in Node)', async () => {
    const nodeHub = new RtcHub(new WebSocketHub(new WebSocketFactory(server.brokerUrl)));
    try {
      const nodeEndpoint = nodeHub.openEndpoint('node-peer') as RtcEndpoint;
      const fromPage: unknown[] = [];
      const pageConnected = new Promise<string>((resolve) => nodeEndpoint.on('connection', resolve));
      nodeEndpoint.onMessage = (event) => {
        fromPage.push(event.message instanceof Uint8Array ? Array.from(event.message) : event.message);
        nodeEndpoint.send(event.sourceEva, typeof event.message === 'string' ? `node got: ${event.message}` : event.message);
      };

      const page = await openPage();
      const received = await page.evaluate(
        async ({ url }) => {
          const w = window as any;
          w.hub = new w.Vnf.RtcHub(new w.Vnf.WebSocketHub(new w.Vnf.WebSocketFactory(url)));
          const endpoint = w.hub.openEndpoint('page-peer');
          const got: unknown[] = [];
          const done = new Promise<void>((resolve) => {
            endpoint.onMessage = (event: any) => {
              got.push(event.message instanceof Uint8Array ? Array.from(event.message) : event.message);
              if (got.length === 2) resolve();
            };
          });
          const connected = await w.e2e.connect(endpoint, 'node-peer');
          if (connected.status !== 'CONNECTED') return { connected, got, path: null };
          endpoint.send('node-peer', 'hello from Chromium');
          endpoint.send('node-peer', new Uint8Array([9, 8, 7]));
          await Promise.race([done, new Promise((resolve) => setTimeout(resolve, 60_000))]);
          return { connected, got, path: endpoint.path('node-peer') };
        },
        { url: server.brokerUrl },
      );

      expect(received.connected.status).toBe('CONNECTED');
      expect(await pageConnected).toBe('page-peer');
      expect(received.got).toEqual(['node got: hello from Chromium', [9, 8, 7]]);
      expect(fromPage).toEqual(['hello from Chromium', [9, 8, 7]]);
      expect(received.path).toBe('direct');
      expect(nodeEndpoint.path('page-peer')).toBe('direct');
      await page.evaluate(() => (window as any).hub.close());
    } finally {
      await nodeHub.close();
    }
  }, 180_000);
});
