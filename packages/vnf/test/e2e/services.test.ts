// The services example (examples/services) end to end: its server (page, bundle, broker with an `authorize` hook on
// one port), a Chromium page hosting `page.greet` and calling `worker.wordcount`, and the example's Node scripts
// (on the built packages, as users run them: CI runs `npm run build` first; skipped outside CI when unbuilt).
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { VnfError } from '@vnf/core';
import { MultiplexHub } from '@vnf/multiplex-hub';
import { WebSocketRegistryClient } from '@vnf/registry';
import { PeerServices } from '@vnf/services';
import { WebSocketFactory, WebSocketHub, WebSocketRpc } from '@vnf/websocket-hub';
import { describeWithChromium, ensureBrowserBundle, launchChromium, ROOT } from './helpers';

interface ServicesServer {
  url: string;
  brokerUrl: string;
  close(): Promise<void>;
}
// A CommonJS script, as users run it.
const { startServicesServer } = require('../../../../examples/services/server.js') as {
  startServicesServer(options: { port?: number; host?: string }): Promise<ServicesServer>;
};

const EXAMPLE = join(ROOT, 'examples/services');
const BUILT = ['packages/vnf/dist/index.cjs', 'packages/services/dist/index.cjs', 'packages/broker/dist/index.cjs'].map((file) => join(ROOT, file));
const WAIT = { timeout: 30_000 };
const GREETING = 'Hello, Ada! Greetings from a browser page.';

function run(script: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(EXAMPLE, script), ...args], { cwd: ROOT, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

const built = BUILT.every((file) => existsSync(file));
if (!built && process.env.CI !== 'true') {
  process.stderr.write('skipping examples/services in Chromium: run `npm run build` first (its Node scripts require the built packages)\n');
}

(built || process.env.CI === 'true' ? describeWithChromium : describe.skip)('examples/services in Chromium', () => {
  let browser: Browser;
  let server: ServicesServer;
  let contexts: BrowserContext[] = [];
  let children: ChildProcess[] = [];
  let cleanups: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    for (const file of BUILT) if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\` first`);
    const check = `process.exit(typeof require(${JSON.stringify(BUILT[0])}).PeerServices === 'function' ? 0 : 1)`;
    if (spawnSync(process.execPath, ['-e', check], { cwd: ROOT }).status !== 0) throw new Error('the built vnf package has no PeerServices: run `npm run build` again');
    ensureBrowserBundle();
    server = await startServicesServer({ port: 0, host: '127.0.0.1' });
    browser = await launchChromium();
  }, 120_000);

  afterEach(async () => {
    await Promise.all(contexts.map((context) => context.close()));
    contexts = [];
    for (const cleanup of cleanups) await cleanup();
    cleanups = [];
    // SIGTERM, as Ctrl-C: a worker then closes cleanly and its ad goes at once (SIGKILL only if it does not exit).
    await Promise.all(
      children.map((child) => {
        if (child.exitCode !== null || child.signalCode !== null) return undefined;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        return exited.finally(() => clearTimeout(timer));
      }),
    );
    children = [];
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  /** Opens the example's page in a context of its own; resolves once it says it is ready, with its eva. */
  async function openPage(): Promise<{ page: Page; eva: string; errors: string[] }> {
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(server.url);
    const status = page.locator('#status');
    await status.filter({ hasText: /^Ready as page-/ }).waitFor(WAIT).catch(async (err) => {
      throw new Error(`the page did not get ready: status "${await status.textContent()}", page errors ${JSON.stringify(errors)}; ${err}`);
    });
    const eva = (await status.textContent())!.replace('Ready as ', '');
    return { page, eva, errors };
  }

  /** Starts examples/services/worker.js; resolves once it says its ad is in the registry. */
  async function startWorker(eva: string): Promise<{ child: ChildProcess; output: () => string }> {
    const child = spawn(process.execPath, [join(EXAMPLE, 'worker.js'), server.brokerUrl, eva], {
      cwd: ROOT,
      env: { ...process.env, LINE_MS: '50' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let out = '';
    let err = '';
    child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const deadline = Date.now() + WAIT.timeout;
    while (!out.includes(`${eva} provides worker.wordcount (advertised)`)) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`worker.js did not get ready: stdout ${JSON.stringify(out)}, stderr ${JSON.stringify(err)}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return { child, output: () => out + err };
  }

  /** A MultiplexHub(WebSocketHub) peer in this process, with a registry client on its endpoint's socket. */
  function peer(eva: string): PeerServices {
    const webSocketHub = new WebSocketHub(new WebSocketFactory(server.brokerUrl));
    const hub = new MultiplexHub(webSocketHub);
    cleanups.push(() => hub.close());
    // The MultiplexHub's endpoint first: opening its eva on the inner hub then gives the very endpoint beneath it.
    const endpoint = hub.openEndpoint(eva);
    const registry = new WebSocketRegistryClient(webSocketHub.openEndpoint(eva).getWebSocketRpc());
    const services = new PeerServices(endpoint, { registry });
    cleanups.unshift(async () => {
      await services.close();
      await registry.close();
    });
    return services;
  }

  async function rejection(promise: Promise<unknown>): Promise<VnfError> {
    const error = await promise.then(
      () => new Error('resolved, expected a rejection'),
      (err: unknown) => err,
    );
    if (!(error instanceof VnfError)) throw error;
    return error;
  }

  it('a Node script calls the service the page hosts (node examples/services/call-page.js)', async () => {
    const { page, eva, errors } = await openPage();
    const { code, stdout, stderr } = await run('call-page.js', [server.brokerUrl, 'Ada']);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout.trim()).toBe(`${eva} answered: ${GREETING}`);
    await page.locator('#served li', { hasText: 'node-caller' }).waitFor(WAIT);
    expect(await page.locator('#served li').allTextContents()).toEqual([`node-caller called page.greet: ${GREETING}`]);
    expect(errors).toEqual([]);
  }, 60_000);

  it('once the page is closed its ad is gone: call-page.js says NOT_FOUND', async () => {
    const { page, eva } = await openPage();
    const observer = new WebSocketRegistryClient(new WebSocketRpc('node-observer', new WebSocketFactory(server.brokerUrl)));
    cleanups.push(() => observer.close());
    const ads = async (): Promise<string[]> => (await observer.listEntries('vnf.services:page.greet')).map((entry) => entry.name);
    expect(await ads()).toEqual([eva]);
    await page.close();
    const deadline = Date.now() + WAIT.timeout;
    while ((await ads()).length > 0) {
      if (Date.now() > deadline) throw new Error(`the closed page's ad is still there: ${JSON.stringify(await ads())}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const { code, stdout, stderr } = await run('call-page.js', [server.brokerUrl, 'Ada']);
    expect({ code, stdout }).toEqual({ code: 1, stdout: '' });
    expect(stderr).toMatch(/^node-caller: the call failed: NOT_FOUND: No live provider of "page.greet" .*\(is the page open\?\)\n$/);
  }, 60_000);

  it("the page's allow option refuses a caller it does not name: FORBIDDEN, and the handler never runs", async () => {
    const { page } = await openPage();
    const { code, stdout, stderr } = await run('call-page.js', [server.brokerUrl, 'Ada', 'intruder']);
    expect({ code, stdout }).toEqual({ code: 1, stdout: '' });
    expect(stderr).toMatch(/^intruder: the call failed: FORBIDDEN: /);
    await page.locator('#served li').first().waitFor(WAIT);
    expect(await page.locator('#served li').allTextContents()).toEqual(['refused a call from intruder']);
  }, 60_000);

  it('the page calls the service a Node worker hosts, showing its progress in order (node examples/services/worker.js)', async () => {
    const { page, errors } = await openPage();
    await startWorker('worker-1');
    // Every text the progress line shows, in order.
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { progressSeen: string[] }).progressSeen = seen;
      const progress = document.getElementById('progress')!;
      new MutationObserver(() => progress.textContent && seen.push(progress.textContent)).observe(progress, { childList: true, characterData: true, subtree: true });
    });
    await page.click('#count');
    const result = page.locator('#result');
    await result.filter({ hasText: 'counted by' }).waitFor(WAIT).catch(async (err) => {
      throw new Error(`no result: "${await result.textContent()}"; ${err}`);
    });
    expect(await result.textContent()).toBe('9 words on 3 lines, counted by worker-1');
    expect(await page.evaluate(() => (window as unknown as { progressSeen: string[] }).progressSeen)).toEqual([
      'Line 1 of 3: 4 words so far',
      'Line 2 of 3: 6 words so far',
      'Line 3 of 3: 9 words so far',
    ]);
    expect(errors).toEqual([]);
  }, 60_000);

  it("the worker's allow option lets pages call, nobody else: FORBIDDEN", async () => {
    const worker = await startWorker('worker-2');
    const error = await rejection(peer('node-snoop').call('worker-2', 'worker.wordcount', 'some text', { timeoutMs: 10_000 }));
    expect(error.code).toBe('FORBIDDEN');
    expect(worker.output()).toContain('worker-2: refused a call from node-snoop');
  }, 60_000);

  it("the broker's authorize hook lets only evas of a service's kind advertise it", async () => {
    // A page (eva page-…) cannot advertise worker.* and so receive the calls meant for workers: its ad is refused.
    const impostor = peer('page-impostor');
    const refused = new Promise<VnfError>((resolve) => impostor.once('error', resolve));
    impostor.provide('worker.wordcount', () => 'not a word count', { advertise: true });
    const error = await refused;
    expect(error.code).toBe('FORBIDDEN');
    expect(error.message).toContain('page-impostor could not advertise "worker.wordcount"');
    // Its own kind, as defaultAuthorize has it: an eva writes its own entry.
    const rpc = new WebSocketRegistryClient(new WebSocketRpc('worker-3', new WebSocketFactory(server.brokerUrl)));
    cleanups.push(() => rpc.close());
    await rpc.createEntry({ collection: 'vnf.services:worker.wordcount', name: 'worker-3' }, {});
    expect((await rpc.listEntries('vnf.services:worker.wordcount')).map((entry) => entry.name)).toEqual(['worker-3']);
  }, 60_000);
});
