// The chat example (examples/chat) end to end: its own server (page, bundle, broker on one port) behind a recording
// proxy, and Chromium users driven through what they see. Rooms on Room (nobody forwards; the room outlives its
// creator), SecureHub beneath everything (fingerprints, a key change warned), files streamed with PeerStreams, a
// member forced onto the relay. The proxy records every byte the server sends to the pages, and the test checks that
// none of the messages' or the file's plaintext is in it.
// Screenshots of each main state for examples/chat/README.md: VNF_CHAT_SCREENSHOTS=1 npx jest packages/vnf/test/e2e/chat.test.ts
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
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
const SHOTS = process.env.VNF_CHAT_SCREENSHOTS === '1';
const SHOT_DIR = join(ROOT, 'examples/chat/screenshots');
const FILE_BYTES = Number(process.env.VNF_CHAT_FILE_MIB ?? 64) * 1024 * 1024;

/**
 * A TCP proxy in front of the chat server that scans every byte the server sends the pages (the broker's relayed
 * records among them; what pages send is masked by WebSocket, and reaches the others through the server anyway) for
 * the markers, across chunk boundaries, and counts them.
 */
class RecordingProxy {
  readonly markers: Buffer[] = [];
  readonly found = new Set<string>();
  bytesToPages = 0;
  private readonly server = net.createServer((client) => this.accept(client));
  private readonly sockets = new Set<net.Socket>();
  private longest = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/`;
  }

  watchFor(marker: Buffer): void {
    this.markers.push(marker);
    this.longest = Math.max(this.longest, marker.length);
  }

  private accept(client: net.Socket): void {
    const upstream = net.connect(this.target.port, this.target.host);
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => socket.destroy());
    }
    let tail: Buffer = Buffer.alloc(0);
    upstream.on('data', (chunk: Buffer) => {
      this.bytesToPages += chunk.length;
      const window = tail.length ? Buffer.concat([tail, chunk]) : chunk;
      for (const marker of this.markers) if (window.includes(marker)) this.found.add(marker.toString('hex'));
      tail = window.subarray(Math.max(0, window.length - this.longest));
    });
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const SCREENS = ['#login', '#lobby', '#room'];

/** The screens a person can actually see (rendered with a size, not merely present or un-`hidden`). */
async function visibleScreens(page: Page): Promise<string[]> {
  const visible = await Promise.all(SCREENS.map((selector) => page.locator(selector).isVisible()));
  return SCREENS.filter((_, i) => visible[i]);
}

function roomRow(page: Page, room: string) {
  return page.locator(`#rooms li[data-room="${room}"]`);
}

function member(page: Page, name: string) {
  return page.locator(`#members li[data-eva="chat:${name}"]`);
}

/** The names in the members list, as the page shows them. */
function members(page: Page): Promise<string[]> {
  return page.locator('#members li .name').allTextContents();
}

async function shot(page: Page, name: string): Promise<void> {
  if (!SHOTS) return;
  mkdirSync(SHOT_DIR, { recursive: true });
  await page.screenshot({ path: join(SHOT_DIR, `${name}.png`) });
}

/** Sends a message through the compose box; resolves once its own delivery state reads `delivery`. */
async function say(page: Page, text: string, delivery: string): Promise<void> {
  await page.getByLabel('Message', { exact: true }).fill(text);
  await page.getByLabel('Message', { exact: true }).press('Enter');
  const mine = page.locator('.message.mine').filter({ hasText: text });
  await mine.locator('.delivery').filter({ hasText: new RegExp(`^${delivery}$`) }).waitFor(WAIT).catch(async (err) => {
    throw new Error(`"${text}" did not reach "${delivery}": it reads "${await mine.locator('.delivery').textContent()}"; ${err}`);
  });
}

async function sees(page: Page, author: string, text: string): Promise<void> {
  await page.locator('.message:not(.mine)').filter({ has: page.locator('.author', { hasText: author }) }).filter({ hasText: text }).first().waitFor(WAIT);
}

describeWithChromium('examples/chat in Chromium', () => {
  let browser: Browser;
  let chat: ChatServer;
  let proxy: RecordingProxy;
  let url: string;
  let contexts: BrowserContext[] = [];
  const cleanups: Array<() => void> = [];

  beforeAll(async () => {
    ensureBrowserBundle();
    chat = await startChatServer({ port: 0, host: '127.0.0.1' });
    const target = new URL(chat.url);
    proxy = new RecordingProxy({ host: target.hostname, port: Number(target.port) });
    url = await proxy.listen();
    browser = await launchChromium();
  }, 120_000);

  afterEach(async () => {
    await Promise.all(contexts.map((context) => context.close()));
    contexts = [];
    for (const cleanup of cleanups.splice(0)) cleanup();
  });

  afterAll(async () => {
    await browser?.close();
    await proxy?.close();
    await chat?.close();
  });

  /** A person in their own browser context (own storage, own connections), signed in with `name`. */
  async function user(name: string, { noWebRtc = false, signIn = true } = {}): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1100, height: 760 }, acceptDownloads: true });
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
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(url);
    if (!signIn) return page;
    await page.getByLabel('Your name').fill(name);
    await page.getByRole('button', { name: 'Enter' }).click();
    await page.locator('#lobby').waitFor({ state: 'visible', ...WAIT }).catch(async (err) => {
      throw new Error(`${name} did not reach the lobby: status "${await page.textContent('#status')}", page errors ${JSON.stringify(errors)}; ${err}`);
    });
    return page;
  }

  async function joinRoom(page: Page, room: string): Promise<void> {
    await page.getByRole('button', { name: `Join ${room}` }).click();
    await page.getByRole('heading', { name: room }).waitFor(WAIT);
  }

  it('serves the page and the bundle from one port', async () => {
    const page = await browser.newPage();
    const response = await page.goto(`${chat.url}vnf.min.js`);
    expect(response?.status()).toBe(200);
    await page.goto(chat.url);
    expect(await page.evaluate(() => typeof (window as unknown as { Vnf?: { PeerStreams?: unknown } }).Vnf?.PeerStreams)).toBe('function');
    await page.close();
  });

  it('shows exactly one screen at a time: login, lobby, room, and after leaving only the lobby', async () => {
    const page = await user('Heidi', { signIn: false });
    const seen: Record<string, string[]> = {};
    seen.login = await visibleScreens(page);
    await shot(page, 'login');
    await page.getByLabel('Your name').fill('Heidi');
    await page.getByRole('button', { name: 'Enter' }).click();
    await page.locator('#lobby').waitFor({ state: 'visible', ...WAIT });
    seen.lobby = await visibleScreens(page);
    await page.getByLabel('New room name').fill('Reading room');
    await page.getByRole('button', { name: 'Create room' }).click();
    await page.getByRole('heading', { name: 'Reading room' }).waitFor(WAIT);
    seen.room = await visibleScreens(page);
    expect(await members(page)).toEqual(['Heidi (you)']);
    await page.getByRole('button', { name: 'Leave' }).click();
    await page.locator('#lobby').waitFor({ state: 'visible', ...WAIT });
    await roomRow(page, 'Reading room').waitFor({ state: 'detached', ...WAIT });
    seen.after = await visibleScreens(page);
    expect(seen).toEqual({ login: ['#login'], lobby: ['#lobby'], room: ['#room'], after: ['#lobby'] });
  }, 120_000);

  it('three members: talk with delivery states, a reload keeps the name, the creator leaves and the others go on, a 64 MiB file with progress to 100 % on both sides, a cancelled file, a member through the server, a key change warned; the proxy sees no plaintext', async () => {
    const marker = () => `m-${randomBytes(12).toString('hex')}`;
    const spoken: string[] = [];
    const line = (text: string) => {
      spoken.push(text);
      proxy.watchFor(Buffer.from(text));
      return text;
    };

    const ann = await user('Ann');
    const ben = await user('Ben');
    const cy = await user('Cy', { noWebRtc: true });

    // Ann opens the room; the others find it in their lobby (a registry watch) and join.
    await ann.getByLabel('New room name').fill('Team');
    await ann.getByRole('button', { name: 'Create room' }).click();
    await ann.getByRole('heading', { name: 'Team' }).waitFor(WAIT);
    await shot(ann, 'lobby');
    await joinRoom(ben, 'Team');
    await joinRoom(cy, 'Team');
    for (const page of [ann, ben, cy]) await page.waitForFunction(() => document.querySelectorAll('#members li').length === 3, null, WAIT);
    expect(await members(ben)).toEqual(expect.arrayContaining(['Ann', 'Ben (you)', 'Cy']));

    // Paths: Ann and Ben reach each other directly; Cy, behind its "firewall", only through the server.
    await member(ann, 'Ben').locator('.path', { hasText: /^direct$/ }).waitFor(WAIT);
    await member(ann, 'Cy').locator('.path', { hasText: /^through the server$/ }).waitFor(WAIT);
    await member(cy, 'Ben').locator('.path', { hasText: /^through the server$/ }).waitFor(WAIT);

    // Talk: "delivered to all 2" once both others showed it.
    const hello = line(`Hello team ${marker()}`);
    await say(ann, hello, 'delivered to all 2');
    await sees(ben, 'Ann', hello);
    await sees(cy, 'Ann', hello);
    const reply = line(`Hi Ann ${marker()}`);
    await say(cy, reply, 'delivered to all 2');
    await sees(ann, 'Cy', reply);
    // A large paste: far beyond one data channel frame, chunked by MarshallerHub beneath the room.
    const paste = line(`Long read ${marker()} `) + 'Lorem ipsum dolor sit amet. '.repeat(12_000);
    await ben.getByLabel('Message', { exact: true }).evaluate((el, text) => void ((el as HTMLTextAreaElement).value = text), paste);
    await ben.getByRole('button', { name: 'Send' }).click();
    await ben.locator('.message.mine').last().locator('.delivery', { hasText: /^delivered to all 2$/ }).waitFor(WAIT);
    await cy.waitForFunction((length) => Array.from(document.querySelectorAll('.message:not(.mine) .body')).some((el) => el.textContent?.length === length), paste.length, WAIT);

    // Fingerprints: what Ben's page shows for Ann is Ann's own key.
    const annsKey = (await ann.locator('#whoami').textContent())!.replace(/^.*your key /, '');
    await member(ben, 'Ann').getByText('Key').click();
    expect(await member(ben, 'Ann').locator('.fingerprint').textContent()).toBe(annsKey);
    await shot(ben, 'room');

    // Ben reloads his tab: he is back in the room under his name, with the same key (nobody is warned).
    await ben.reload();
    await ben.getByRole('heading', { name: 'Team' }).waitFor(WAIT);
    expect(await ben.locator('#whoami').textContent()).toContain('Signed in as Ben');
    for (const page of [ann, cy]) {
      await page.waitForFunction(() => document.querySelectorAll('#members li').length === 3 && document.querySelector('#members li[data-eva="chat:Ben"]'), null, WAIT);
    }
    const back = line(`Back again ${marker()}`);
    await say(ben, back, 'delivered to all 2');
    expect(await ann.locator('#alerts .alert').count()).toBe(0);
    expect(await cy.locator('#alerts .alert').count()).toBe(0);

    // The creator leaves; the room goes on without her.
    await ann.getByRole('button', { name: 'Leave' }).click();
    await ann.locator('#lobby').waitFor({ state: 'visible', ...WAIT });
    for (const page of [ben, cy]) await page.waitForFunction(() => document.querySelectorAll('#members li').length === 2, null, WAIT);
    const still = line(`Still here ${marker()}`);
    await say(cy, still, 'delivered');
    await sees(ben, 'Cy', still);
    expect(await roomRow(ann, 'Team').textContent()).toContain('Ben, Cy');

    // A 64 MiB file from Ben to Cy (through the server): both bars reach 100 %, the hash checked on both sides.
    const file = randomBytes(FILE_BYTES);
    for (const share of [0.1, 0.5, 0.9]) proxy.watchFor(file.subarray(Math.floor(FILE_BYTES * share), Math.floor(FILE_BYTES * share) + 32));
    // Playwright takes a buffer of at most 50 MB: larger files go by path, as a user picks them.
    const dir = mkdtempSync(join(tmpdir(), 'vnf-chat-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'video.bin'), file);
    writeFileSync(join(dir, 'big.bin'), randomBytes(FILE_BYTES));
    await ben.getByLabel('Share a file').setInputFiles(join(dir, 'video.bin'));
    const sent = ben.locator('.message.mine .file').filter({ hasText: 'video.bin' });
    const received = cy.locator('.message:not(.mine) .file').filter({ hasText: 'video.bin' });
    await received.locator('.file-state').filter({ hasText: /%/ }).waitFor(WAIT);
    await shot(cy, 'file-progress');
    const started = Date.now();
    await received.locator('.file-state', { hasText: '100 % · received, SHA-256 checked' }).waitFor({ timeout: 180_000 }).catch(async (err) => {
      throw new Error(`the file did not arrive: Cy shows "${await received.locator('.file-state').textContent()}", Ben "${await sent.locator('.file-state').textContent()}"; ${err}`);
    });
    console.info(`chat: ${FILE_BYTES / 1048576} MiB through the server in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    await sent.locator('.file-state', { hasText: '100 % · sent, SHA-256 checked' }).waitFor(WAIT);
    for (const bar of [sent.getByRole('progressbar'), received.getByRole('progressbar')]) {
      expect(await bar.evaluate((el: HTMLProgressElement) => el.value === el.max)).toBe(true);
    }
    await ben.locator('.message.mine').filter({ hasText: 'video.bin' }).locator('.delivery', { hasText: /^delivered$/ }).waitFor(WAIT);
    const download = cy.waitForEvent('download');
    await received.getByRole('link', { name: 'Save video.bin' }).click();
    expect((await download).suggestedFilename()).toBe('video.bin');
    await shot(cy, 'file-received');

    // A file the receiver cancels: both sides say so.
    await cy.getByLabel('Share a file').setInputFiles(join(dir, 'big.bin'));
    const incoming = ben.locator('.message:not(.mine) .file').filter({ hasText: 'big.bin' });
    await incoming.locator('.file-state').filter({ hasText: /^\d+ %$/ }).waitFor(WAIT);
    await incoming.getByRole('button', { name: 'Cancel big.bin' }).click();
    await incoming.locator('.file-state', { hasText: /^cancelled$/ }).waitFor(WAIT);
    await cy.locator('.message.mine .file').filter({ hasText: 'big.bin' }).locator('.file-state', { hasText: /^cancelled$/ }).waitFor(WAIT);

    // Cy closes the tab; someone else signs in as "Cy" (another key) and joins: Ben is warned, not connected to it.
    await cy.context().close();
    contexts = contexts.filter((context) => context !== cy.context());
    await ben.waitForFunction(() => document.querySelectorAll('#members li').length === 1, null, WAIT);
    const impostor = await user('Cy');
    await joinRoom(impostor, 'Team');
    const warning = ben.getByRole('alert').filter({ hasText: "Cy's key changed" });
    await warning.waitFor(WAIT);
    await member(ben, 'Cy').locator('.path', { hasText: 'key changed: not trusted' }).waitFor(WAIT);
    await shot(ben, 'key-changed');
    // Ben decides to trust the new key: they connect.
    await warning.getByRole('button', { name: 'Trust the new key' }).click();
    await member(ben, 'Cy').locator('.path', { hasText: /^(direct|through the server)$/ }).waitFor(WAIT);
    const welcome = line(`Welcome back ${marker()}`);
    await say(ben, welcome, 'delivered');

    // What the server relayed: ciphertext only. At least the file crossed it (to Cy, through the server).
    expect(proxy.bytesToPages).toBeGreaterThan(FILE_BYTES);
    expect([...proxy.found]).toEqual([]);
    expect(spoken.length).toBeGreaterThan(4);
  }, 420_000);

  it("a room vanishes from others' lobbies when its last member closes the page", async () => {
    const carol = await user('Carol');
    const dave = await user('Dave');
    await carol.getByLabel('New room name').fill('Short-lived');
    await carol.getByRole('button', { name: 'Create room' }).click();
    await roomRow(dave, 'Short-lived').waitFor(WAIT);
    await carol.close();
    await roomRow(dave, 'Short-lived').waitFor({ state: 'detached', ...WAIT });
    expect(await dave.locator('#rooms li').count()).toBe(0);
  }, 180_000);

  it('shows a notice while the connection to the server is lost, and removes it once reconnected', async () => {
    const ivan = await user('Ivan');
    await ivan.getByLabel('New room name').fill('Night shift');
    await ivan.getByRole('button', { name: 'Create room' }).click();
    await ivan.getByRole('heading', { name: 'Night shift' }).waitFor(WAIT);
    // Found by its accessible role: a live region, so a screen reader says it too.
    const notice = ivan.getByRole('status').filter({ hasText: /connection to the server is lost/i });
    expect(await notice.isVisible()).toBe(false);

    // Offline, the page can open no new socket, so it stays cut until the test lets it back.
    await ivan.context().setOffline(true);
    expect(chat.broker.terminate('chat:Ivan')).toBe(true);
    await notice.waitFor({ state: 'visible', timeout: 20_000 });
    await shot(ivan, 'server-gone');
    expect(await visibleScreens(ivan)).toEqual(['#room']);

    await ivan.context().setOffline(false);
    await notice.waitFor({ state: 'hidden', ...WAIT });
    expect(await visibleScreens(ivan)).toEqual(['#room']);
  }, 120_000);

  it('refuses a name that is in use', async () => {
    await user('Erin');
    const page = await user('Erin', { signIn: false });
    await page.getByLabel('Your name').fill('Erin');
    await page.getByRole('button', { name: 'Enter' }).click();
    await page.waitForFunction(() => document.querySelector('#status')?.textContent?.includes('taken'), null, WAIT);
    expect(await visibleScreens(page)).toEqual(['#login']);
  }, 120_000);
});
