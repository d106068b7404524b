// The file-sharing example (examples/file-share) end to end: its server (page, bundle and broker on one port) and two
// Chromium pages, driven through what a user sees: one page sends a file to the other's code, both progress bars
// reach the end, both say the SHA-256 was checked, and the receiver's Save link holds the very bytes sent.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { describeWithChromium, ensureBrowserBundle, launchChromium, ROOT } from './helpers';

interface FileShareServer {
  url: string;
  close(): Promise<void>;
}
// A CommonJS script, as users run it.
const { startFileShareServer } = require('../../../../examples/file-share/server.js') as {
  startFileShareServer(options: { port?: number; host?: string }): Promise<FileShareServer>;
};

const BUILT = ['packages/vnf/dist/index.cjs', 'packages/broker/dist/index.cjs'].map((file) => join(ROOT, file));
const WAIT = { timeout: 30_000 };
const built = BUILT.every((file) => existsSync(file));
if (!built && process.env.CI !== 'true') process.stderr.write('skipping examples/file-share in Chromium: run `npm run build` first\n');

(built || process.env.CI === 'true' ? describeWithChromium : describe.skip)('examples/file-share in Chromium', () => {
  let browser: Browser;
  let server: FileShareServer;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    for (const file of BUILT) if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\` first`);
    ensureBrowserBundle();
    server = await startFileShareServer({ port: 0, host: '127.0.0.1' });
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await Promise.all(contexts.map((context) => context.close()));
    await browser?.close();
    await server?.close();
  });

  async function openPage(): Promise<{ page: Page; code: string; errors: string[] }> {
    const context = await browser.newContext({ acceptDownloads: true });
    contexts.push(context);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(server.url);
    const status = page.locator('#status');
    await status.filter({ hasText: /^This page's code: page-/ }).waitFor(WAIT);
    return { page, code: (await status.textContent())!.replace("This page's code: ", ''), errors };
  }

  it('one page sends a file to the other: progress to the end on both sides, the hash checked, the bytes saved as sent', async () => {
    const sender = await openPage();
    const receiver = await openPage();
    const bytes = Buffer.alloc(6 * 1024 * 1024 + 123);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 131 + (i >>> 11)) & 255;
    await sender.page.getByLabel("To (the other page's code)").fill(receiver.code);
    await sender.page.getByLabel('File', { exact: true }).setInputFiles({ name: 'photo.raw', mimeType: 'application/octet-stream', buffer: bytes });
    await sender.page.getByRole('button', { name: 'Send' }).click();

    const incoming = receiver.page.getByRole('list', { name: 'Files you receive' }).getByRole('listitem');
    await incoming.filter({ hasText: `photo.raw from ${sender.code}` }).filter({ hasText: 'received, SHA-256 checked' }).waitFor(WAIT);
    const outgoing = sender.page.getByRole('list', { name: 'Files you send' }).getByRole('listitem');
    await outgoing.filter({ hasText: `photo.raw → ${receiver.code}` }).filter({ hasText: 'delivered, SHA-256 checked' }).waitFor(WAIT);
    for (const [page, name] of [[sender.page, `photo.raw → ${receiver.code}`], [receiver.page, `photo.raw from ${sender.code}`]] as const) {
      const bar = page.getByRole('progressbar', { name: `progress of ${name}` });
      expect(await bar.evaluate((el: HTMLProgressElement) => [el.value, el.max])).toEqual([bytes.length, bytes.length]);
    }

    const download = receiver.page.waitForEvent('download');
    await incoming.getByRole('link', { name: 'Save' }).click();
    const saved = await download;
    expect(saved.suggestedFilename()).toBe('photo.raw');
    const path = await saved.path();
    const { readFileSync } = await import('node:fs');
    expect(createHash('sha256').update(readFileSync(path)).digest('hex')).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect([...sender.errors, ...receiver.errors]).toEqual([]);
  });
});
