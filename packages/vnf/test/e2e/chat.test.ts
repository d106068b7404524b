// The chat example (examples/chat) end to end: its own server (page, bundle, broker on one port), two Chromium users.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { describeWithChromium, ensureBrowserBundle, launchChromium, ROOT } from './helpers';

interface ChatServer {
  url: string;
  /** The broker: `terminate(eva)` cuts that page's socket as a network failure would, and lets it reconnect. */
  broker: { terminate(eva: string): boolean };
  close(): Promise<void>;
}
// A CommonJS script, as users run it.
const { startChatServer } = require('../../../../examples/chat/server.js') as {
  startChatServer(options: { port?: number; host?: string }): Promise<ChatServer>;
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

const SCREENS = ['#login', '#lobby', '#room'];

/** The screens a person can actually see (rendered with a size, not merely present or un-`hidden`). */
async function visibleScreens(page: Page): Promise<string[]> {
  const visible = await Promise.all(SCREENS.map((selector) => page.locator(selector).isVisible()));
  return SCREENS.filter((_, i) => visible[i]);
}

/** The parts of the room screen a person can see: its title, Leave, "Here now" and its people, the message box. */
async function visibleRoomParts(page: Page): Promise<string[]> {
  const parts: Record<string, ReturnType<Page['locator']>> = {
    title: page.locator('#room-title'),
    leave: page.getByRole('button', { name: 'Leave' }),
    hereNow: page.getByText('Here now'),
    people: page.locator('#members li').first(),
    messageBox: page.locator('#text'),
    send: page.getByRole('button', { name: 'Send' }),
  };
  const names = Object.keys(parts);
  const visible = await Promise.all(names.map((name) => parts[name].isVisible()));
  return names.filter((_, i) => visible[i]);
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
  let chat: ChatServer;
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

  it('shows exactly one screen at a time: login, lobby, room, and after leaving only the lobby', async () => {
    const context = await browser.newContext({ viewport: { width: 1000, height: 720 } });
    contexts.push(context);
    const page = await context.newPage();
    // What a person sees at each step; compared at the end, so that a failure shows every step at once.
    const seen: Record<string, { screens: string[]; roomParts: string[] }> = {};
    const look = async (step: string) => {
      seen[step] = { screens: await visibleScreens(page), roomParts: await visibleRoomParts(page) };
    };

    await page.goto(chat.url);
    await page.locator('#login').waitFor({ state: 'visible', ...WAIT });
    await look('login');

    await page.fill('#name', 'Heidi');
    await page.click('#enter');
    await page.locator('#lobby').waitFor({ state: 'visible', ...WAIT });
    await look('lobby');

    await page.fill('#room-name', 'Reading room');
    await page.click('#create');
    await page.locator('#room').waitFor({ state: 'visible', ...WAIT });
    await look('room');
    const roomTitle = page.getByRole('heading', { name: 'Reading room' });
    const roomPeople = page.getByText('Heidi (host, you)');
    const inRoom = { title: await roomTitle.isVisible(), people: await roomPeople.isVisible() };

    await page.click('#leave');
    await roomRow(page, 'Reading room').waitFor({ state: 'detached', ...WAIT });
    await look('after leaving');
    const afterLeaving = { title: await roomTitle.isVisible(), people: await roomPeople.isVisible() };

    const room = ['title', 'leave', 'hereNow', 'people', 'messageBox', 'send'];
    expect(seen).toEqual({
      login: { screens: ['#login'], roomParts: [] },
      lobby: { screens: ['#lobby'], roomParts: [] },
      room: { screens: ['#room'], roomParts: room },
      // The room that was left keeps nothing on screen: no title, no people, no message box to type into.
      'after leaving': { screens: ['#lobby'], roomParts: [] },
    });
    expect({ inRoom, afterLeaving }).toEqual({ inRoom: { title: true, people: true }, afterLeaving: { title: false, people: false } });
  }, 120_000);

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
    expect(await visibleScreens(bob)).toEqual(['#lobby']);
    expect(await visibleRoomParts(bob)).toEqual([]);
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

  it('shows a notice while the connection to the server is lost, and removes it once reconnected', async () => {
    const ivan = await user('Ivan');
    await ivan.fill('#room-name', 'Night shift');
    await ivan.click('#create');
    await ivan.locator('#room').waitFor({ state: 'visible', ...WAIT });
    // Found by its accessible role: a live region, so a screen reader says it too.
    const notice = ivan.getByRole('status').filter({ hasText: /connection to the server (was )?lost/i });
    expect(await notice.isVisible()).toBe(false);

    // Offline, the page can open no new socket, so it stays cut until the test lets it back.
    await ivan.context().setOffline(true);
    expect(chat.broker.terminate('chat:Ivan')).toBe(true);
    await notice.waitFor({ state: 'visible', timeout: 20_000 }).catch(async (err) => {
      const said = await ivan.getByRole('status').allTextContents();
      throw new Error(`no visible notice after the server connection was cut; the page's status regions say ${JSON.stringify(said)}; ${err}`);
    });
    const box = await notice.boundingBox();
    const viewport = ivan.viewportSize();
    expect(box && viewport && box.y >= 0 && box.y + box.height <= viewport.height && box.x >= 0 && box.x + box.width <= viewport.width).toBe(true);
    expect(await visibleScreens(ivan)).toEqual(['#room']);

    await ivan.context().setOffline(false);
    await notice.waitFor({ state: 'hidden', ...WAIT });
    expect(await ivan.locator('#connection').isVisible()).toBe(false);
    expect(await visibleScreens(ivan)).toEqual(['#room']);
  }, 120_000);

  it('refuses a name that is in use', async () => {
    await user('Erin');
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(chat.url);
    await page.fill('#name', 'Erin');
    await page.click('#enter');
    await page.waitForFunction(() => document.querySelector('#status')?.textContent?.includes('taken'), null, WAIT);
    expect(await visibleScreens(page)).toEqual(['#login']);
  }, 120_000);
});
