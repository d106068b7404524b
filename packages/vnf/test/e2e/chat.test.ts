// The chat example (examples/chat) end to end: its own server (page, bundle, broker on one port), two Chromium users.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { describeWithChromium, ensureBrowserBundle, launchChromium, ROOT } from './helpers';

// A CommonJS script, as users run it.
const { startChatServer } = require('../../../../examples/chat/server.js') as {
  startChatServer(options: { port?: number; host?: string }): Promise<{ url: string; close(): Promise<void> }>;
};

const WAIT = { timeout: 60_000 };
const SCREENSHOT = join(ROOT, 'examples/chat/test-output/chat.png');

async function signIn(page: Page, url: string, name: string): Promise<void> {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(url);
  await page.fill('#name', name);
  await page.click('#enter');
  await page.locator('#lobby').waitFor({ state: 'visible', ...WAIT }).catch(async (err) => {
    throw new Error(`${name} did not reach the lobby: status "${await page.textContent('#status')}", page errors ${JSON.stringify(errors)}; ${err}`);
  });
}

function roomRow(page: Page, room: string) {
  return page.locator(`#rooms li[data-room="${room}"]`);
}

/** "name (tags)" of each person in the room, as the page lists them. */
function members(page: Page): Promise<string[]> {
  return page.locator('#members li').evaluateAll((items) =>
    items.map((li) => `${li.querySelector('.name')?.textContent}${li.querySelector('.tag')?.textContent ?? ''}`),
  );
}

describeWithChromium('examples/chat in Chromium', () => {
  let browser: Browser;
  let chat: { url: string; close(): Promise<void> };
  let contexts: BrowserContext[] = [];

  beforeAll(async () => {
    ensureBrowserBundle();
    chat = await startChatServer({ port: 0, host: '127.0.0.1' });
    browser = await launchChromium();
  }, 120_000);

  afterEach(async () => {
    await Promise.all(contexts.map((context) => context.close()));
    contexts = [];
  });

  afterAll(async () => {
    await browser?.close();
    await chat?.close();
  });

  /** A user in their own browser context (own storage, own connections). */
  async function user(name: string, { noWebRtc = false } = {}): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1000, height: 720 } });
    contexts.push(context);
    if (noWebRtc) {
      // As behind a firewall that blocks UDP: this page gathers no ICE candidate, so no data channel can form.
      await context.addInitScript(() => {
        const Native = window.RTCPeerConnection;
        window.RTCPeerConnection = class extends Native {
          constructor(config?: RTCConfiguration) {
            super({ ...config, iceTransportPolicy: 'relay' });
          }
        };
      });
    }
    const page = await context.newPage();
    await signIn(page, chat.url, name);
    return page;
  }

  it('serves the page and the bundle from one port', async () => {
    const page = await browser.newPage();
    const response = await page.goto(`${chat.url}vnf.min.js`);
    expect(response?.status()).toBe(200);
    await page.goto(chat.url);
    expect(await page.evaluate(() => typeof (window as unknown as { Vnf?: { MarshallerHub?: unknown } }).Vnf?.MarshallerHub)).toBe('function');
    await page.close();
  });

  it('two users: create, see and join a room, chat with delivery states, images and large text; the host leaves', async () => {
    const alice = await user('Alice');
    const bob = await user('Bob');

    await alice.fill('#room-name', 'Tea room');
    await alice.click('#create');
    await alice.locator('#room').waitFor({ state: 'visible', ...WAIT });

    // Bob's lobby learns of the room through the registry watch, without reloading.
    await roomRow(bob, 'Tea room').waitFor(WAIT);
    expect(await roomRow(bob, 'Tea room').textContent()).toContain('by Alice');
    await roomRow(bob, 'Tea room').locator('button').click();
    await bob.locator('#room').waitFor({ state: 'visible', ...WAIT });
    await alice.waitForFunction(() => document.querySelectorAll('#members li').length === 2, null, WAIT);
    await bob.waitForFunction(() => document.querySelectorAll('#members li').length === 2, null, WAIT);
    expect(await members(alice)).toEqual(['Alice (host, you)', 'Bob']);
    expect(await members(bob)).toEqual(['Alice (host)', 'Bob (you)']);

    // Bob → Alice: sending… then delivered once Alice's page acknowledges it.
    await bob.fill('#text', 'Hello Alice!');
    await bob.press('#text', 'Enter');
    const bobsMessage = bob.locator('.message.mine').last();
    expect(await bobsMessage.locator('.body').textContent()).toBe('Hello Alice!');
    await bob.waitForFunction(() => document.querySelector('.message.mine:last-child .delivery')?.getAttribute('data-state') === 'delivered', null, WAIT);
    expect(await bobsMessage.locator('.delivery').textContent()).toBe('delivered');
    const atAlice = alice.locator('.message:not(.mine):not(.notice)').last();
    await atAlice.waitFor(WAIT);
    expect(await atAlice.locator('.author').textContent()).toBe('Bob');
    expect(await atAlice.locator('.body').textContent()).toBe('Hello Alice!');

    // Large pasted text: far beyond one data channel frame, carried by MarshallerHub's chunking.
    const large = 'Lorem ipsum dolor sit amet. '.repeat(12_000);
    await alice.locator('#text').evaluate((el, text) => {
      (el as HTMLTextAreaElement).value = text;
    }, large);
    await alice.click('#send');
    await alice.waitForFunction(() => document.querySelector('.message.mine:last-child .delivery')?.getAttribute('data-state') === 'delivered', null, WAIT);
    await bob.waitForFunction((length) => Array.from(document.querySelectorAll('.message:not(.mine) .body')).some((el) => el.textContent?.length === length), large.length, WAIT);

    // An image (a screenshot of Alice's page) sent as binary inside a JSON message.
    const png = await alice.screenshot();
    await alice.setInputFiles('#file', { name: 'screen.png', mimeType: 'image/png', buffer: png });
    await alice.waitForFunction(() => document.querySelector('.message.mine:last-child .delivery')?.getAttribute('data-state') === 'delivered', null, WAIT);
    await bob.waitForFunction(() => {
      const img = document.querySelector<HTMLImageElement>('.message:not(.mine) img');
      return Boolean(img && img.complete && img.naturalWidth > 0);
    }, null, WAIT);

    // The pages reach each other over a direct WebRTC data channel, and say so.
    await bob.waitForFunction(() => document.querySelector('#members li[data-eva="chat:Alice"] .path')?.textContent === 'direct', null, WAIT);
    await alice.waitForFunction(() => document.querySelector('#members li[data-eva="chat:Bob"] .path')?.textContent === 'direct', null, WAIT);

    await bob.fill('#text', 'Nice picture. Bye!');
    await bob.press('#text', 'Enter');
    await bob.waitForFunction(() => document.querySelector('.message.mine:last-child .delivery')?.getAttribute('data-state') === 'delivered', null, WAIT);
    mkdirSync(join(ROOT, 'examples/chat/test-output'), { recursive: true });
    await bob.screenshot({ path: SCREENSHOT });

    // The host leaves: Bob is sent back to the lobby and the room is gone from it.
    await alice.click('#leave');
    await bob.locator('#lobby').waitFor({ state: 'visible', ...WAIT });
    expect(await bob.textContent('#status')).toContain('The host left');
    await roomRow(bob, 'Tea room').waitFor({ state: 'detached', ...WAIT });
  }, 240_000);

  it('falls back to the broker relay when no direct WebRTC connection can be made', async () => {
    const frank = await user('Frank', { noWebRtc: true });
    const grace = await user('Grace');
    await frank.fill('#room-name', 'Behind a firewall');
    await frank.click('#create');
    await roomRow(grace, 'Behind a firewall').locator('button').click();
    await grace.locator('#room').waitFor({ state: 'visible', ...WAIT });
    await grace.waitForFunction(() => document.querySelector('#members li[data-eva="chat:Frank"] .path')?.textContent === 'via server', null, WAIT);
    await grace.fill('#text', 'Can you read me?');
    await grace.press('#text', 'Enter');
    await grace.waitForFunction(() => document.querySelector('.message.mine:last-child .delivery')?.getAttribute('data-state') === 'delivered', null, WAIT);
    await frank.waitForFunction(() => document.querySelector('.message:not(.mine) .body')?.textContent === 'Can you read me?', null, WAIT);
    expect(await frank.locator('#members li[data-eva="chat:Grace"] .path').textContent()).toBe('via server');
  }, 180_000);

  it("a room vanishes from others' lobbies when its owner closes the page", async () => {
    const carol = await user('Carol');
    const dave = await user('Dave');
    await carol.fill('#room-name', 'Short-lived');
    await carol.click('#create');
    await roomRow(dave, 'Short-lived').waitFor(WAIT);
    await carol.close();
    await roomRow(dave, 'Short-lived').waitFor({ state: 'detached', ...WAIT });
    expect(await dave.locator('#rooms li').count()).toBe(0);
  }, 180_000);

  it('refuses a name that is in use', async () => {
    await user('Erin');
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(chat.url);
    await page.fill('#name', 'Erin');
    await page.click('#enter');
    await page.waitForFunction(() => document.querySelector('#status')?.textContent?.includes('taken'), null, WAIT);
    expect(await page.locator('#login').isVisible()).toBe(true);
  }, 120_000);
});
