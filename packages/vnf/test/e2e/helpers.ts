// Shared plumbing of the Chromium end-to-end tests: the browser bundle, Chromium, and a page server with the broker.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export const ROOT = join(__dirname, '../../../..');
export const BUNDLE = join(ROOT, 'packages/vnf/dist/vnf.min.js');
export const BROKER_PATH = '/webbroker/vnf-ws';
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--allow-loopback-in-peer-connection',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
  // Without media permission Chromium gathers ICE candidates only on the default-route interface, and the
  // loopback-only namespace has none; a page that may capture media gets every interface, loopback included.
  '--use-fake-ui-for-media-stream',
];

/**
 * `describe` when Chromium is installed. Without it the suite is skipped with a message, except on CI
 * (CI=true), where it runs and fails so that a missing browser can never pass silently.
 */
export function describeWithChromium(name: string, fn: () => void): void {
  if (existsSync(CHROMIUM) || process.env.CI === 'true') {
    describe(name, fn);
    return;
  }
  process.stderr.write(`skipping "${name}": Chromium not found at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)\n`);
  describe.skip(name, fn);
}

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install chromium, or set CHROMIUM_PATH`);
  }
  // launch() gives every run a fresh temporary profile; each newContext() is a separate user.
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 60_000 });
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** Builds the browser bundles when they are missing or older than any source they are made of (CI builds them beforehand). */
export function ensureBrowserBundle(): void {
  const inputs = [
    ...readdirSync(join(ROOT, 'packages'))
      .map((dir) => join(ROOT, 'packages', dir, 'src'))
      .filter((dir) => existsSync(dir)),
    join(ROOT, 'packages/vnf/browser-shims'),
  ];
  const newestSource = Math.max(statSync(join(ROOT, 'scripts/build-browser.mjs')).mtimeMs, ...inputs.map(newestMtime));
  if (existsSync(BUNDLE) && statSync(BUNDLE).mtimeMs >= newestSource) return;
  // --no-readme: a test run leaves README.md alone (readmeSizes.test.ts checks its figures against the sources).
  execFileSync(process.execPath, [join(ROOT, 'scripts/build-browser.mjs'), '--no-readme'], { cwd: ROOT, stdio: 'pipe' });
}

export interface PageServer {
  /** Base URL, e.g. http://127.0.0.1:43123 */
  url: string;
  /** ws:// URL of the broker attached to this server. */
  brokerUrl: string;
  server: http.Server;
  close(): Promise<void>;
}

const BLANK_PAGE = '<!doctype html><meta charset="utf-8"><title>vnf test</title><script src="/vnf.min.js"></script>';

/**
 * An HTTP server on 127.0.0.1 port 0 serving a blank page that loads the window.Vnf bundle (at `/`).
 * `attach` hooks other services (the broker) onto the same server before it listens.
 */
export async function startPageServer(attach?: (server: http.Server) => void | Promise<void>): Promise<PageServer> {
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (['/vnf.min.js', '/vnf.min.js.map', '/vnf.browser.mjs', '/vnf.browser.mjs.map'].includes(path)) {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' });
      res.end(readFileSync(join(ROOT, 'packages/vnf/dist', path.slice(1))));
    } else if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(BLANK_PAGE);
    } else {
      res.writeHead(404).end();
    }
  });
  await attach?.(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    brokerUrl: `ws://127.0.0.1:${port}${BROKER_PATH}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Collects a page's console lines of one type, and lets a test wait for one to appear. */
export function collectConsole(page: Page, type = 'info') {
  const lines: string[] = [];
  const waiters: Array<{ match: (l: string) => boolean; resolve: () => void }> = [];
  page.on('console', (message) => {
    if (message.type() !== type) return;
    lines.push(message.text());
    for (const waiter of waiters.filter((w) => w.match(message.text()))) waiter.resolve();
  });
  page.on('pageerror', (error) => lines.push(`pageerror: ${error.message}`));
  return {
    lines,
    waitFor(substring: string, timeoutMs = 30_000): Promise<void> {
      if (lines.some((l) => l.includes(substring))) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`console line "${substring}" did not appear within ${timeoutMs} ms; got ${JSON.stringify(lines)}`)),
          timeoutMs,
        );
        waiters.push({
          match: (l) => l.includes(substring),
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    },
  };
}
