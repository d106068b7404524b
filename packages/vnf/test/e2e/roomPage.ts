// A Chromium page of examples/rooms as a room member (the MemberHandle of packages/rooms/test/support), driven through
// its window.roomTest hook: for rooms.test.ts and the rooms soak.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { MemberHandle } from '../../../rooms/test/support/memberHandles';
import { diagnoseRoom, type MemberReport, type Received } from '../../../rooms/test/support/roomMember';

interface RoomTestHook {
  eva: string;
  ready: Promise<void>;
  joined: boolean;
  joinState: string;
  broadcast(tag: string, count: number): Promise<void>;
  received(tag: string): Received;
  counts(tag: string): Record<string, number>;
  report(): MemberReport;
  leave(): Promise<void>;
  debug: { room: Parameters<typeof diagnoseRoom>[0]; rtcEndpoint: Parameters<typeof diagnoseRoom>[1]; reliableEndpoint: unknown };
}
type HookWindow = Window & { roomTest?: RoomTestHook };

export interface RoomPageOptions {
  /** The rooms server's page URL (http://127.0.0.1:<port>/). */
  url: string;
  room: string;
  seed: number;
  drop: number;
  forceRelay?: boolean;
  /** How long a page may take to load and join, ms. */
  timeoutMs?: number;
}

/** The page as a member; `eva` changes when a reload or reopen takes a new one. */
export class RoomPage implements MemberHandle {
  readonly where = 'page';
  eva = '';
  /** Page errors and console errors, for failure messages. */
  readonly problems: string[] = [];
  private page!: Page;

  private constructor(
    private readonly context: BrowserContext,
    private readonly options: RoomPageOptions,
  ) {}

  /** A new context (a user of its own) with one page that joined the room. */
  static async open(browser: Browser, options: RoomPageOptions): Promise<RoomPage> {
    const context = await browser.newContext();
    const roomPage = new RoomPage(context, options);
    try {
      await roomPage.newPage();
    } catch (err) {
      await context.close();
      throw err;
    }
    return roomPage;
  }

  get pageUrl(): string {
    const { url, room, seed, drop, forceRelay } = this.options;
    const query = new URLSearchParams({ room, seed: String(seed), drop: String(drop), ...(forceRelay ? { relay: 'force' } : {}) });
    return `${url.replace(/\/$/, '')}/?${query}`;
  }

  private get timeoutMs(): number {
    return this.options.timeoutMs ?? 30_000;
  }

  private async newPage(): Promise<void> {
    this.page = await this.context.newPage();
    this.watch(this.page);
    await this.page.goto(this.pageUrl);
    await this.joined();
  }

  private watch(page: Page): void {
    page.on('pageerror', (error) => this.problems.push(`pageerror: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') this.problems.push(`console: ${message.text()}`);
    });
  }

  /** Waits for the page's join() to settle (resolved, or rejected: then this throws why), and reads its eva. */
  private async joined(): Promise<void> {
    await this.page
      .waitForFunction(() => {
        const state = (window as HookWindow).roomTest?.joinState;
        return state !== undefined && state !== 'joining';
      }, undefined, { timeout: this.timeoutMs, polling: 50 })
      .catch(async (err: Error) => {
        const status = await this.page.locator('#status').textContent().catch(() => '?');
        throw new Error(`the rooms page did not join: status "${status}", problems ${JSON.stringify(this.problems.slice(-5))}; ${err.message}`);
      });
    const { eva, joinState } = await this.page.evaluate(() => ({ eva: (window as HookWindow).roomTest!.eva, joinState: (window as HookWindow).roomTest!.joinState }));
    if (joinState !== 'joined') throw new Error(`the rooms page's room.join() ${joinState}; problems ${JSON.stringify(this.problems.slice(-5))}`);
    this.eva = eva;
  }

  /**
   * Reloads the page (a new page load; it joins again). With `newEva` its sessionStorage is cleared first, so it
   * comes back under a new eva; otherwise it keeps its eva with its session token.
   */
  async reload({ newEva = false } = {}): Promise<void> {
    if (newEva) await this.page.evaluate(() => sessionStorage.clear());
    await this.page.reload();
    await this.joined();
  }

  /**
   * The renderer dies (Chromium's Page.crash): no pagehide, no leave, no close handshake of its sockets. Then a new
   * tab (a new eva) joins in its place.
   */
  async crashAndReopen(): Promise<void> {
    const old = this.page;
    const cdp = await this.context.newCDPSession(old);
    const crashed = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the renderer of ${this.eva} did not crash within ${this.timeoutMs} ms`)), this.timeoutMs);
      old.once('crash', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    // Page.crash never answers (the renderer it would answer from is gone): wait for the page's crash event instead.
    void cdp.send('Page.crash').catch(() => undefined);
    await crashed;
    await old.close({ runBeforeUnload: false }).catch(() => undefined);
    await this.newPage();
  }

  broadcast(tag: string, count: number): Promise<void> {
    return this.page.evaluate(([t, n]) => (window as HookWindow).roomTest!.broadcast(t, n), [tag, count] as const);
  }

  received(tag: string): Promise<Received> {
    return this.page.evaluate((t) => (window as HookWindow).roomTest!.received(t), tag);
  }

  counts(tag: string): Promise<Record<string, number>> {
    return this.page.evaluate((t) => (window as HookWindow).roomTest!.counts(t), tag);
  }

  report(): Promise<MemberReport> {
    return this.page.evaluate(() => (window as HookWindow).roomTest!.report());
  }

  /** The page's room internals (diagnoseRoom, run in the page on the hook's `debug` objects), for failure messages. */
  diagnose(): Promise<Record<string, unknown>> {
    return this.page.evaluate((source) => {
      const debug = (window as HookWindow).roomTest!.debug;
      const diagnose = new Function(`return (${source})`)() as typeof diagnoseRoom;
      return diagnose(debug.room, debug.rtcEndpoint, debug.reliableEndpoint);
    }, diagnoseRoom.toString());
  }

  leave(): Promise<void> {
    return this.page.evaluate(() => (window as HookWindow).roomTest!.leave());
  }

  close(): Promise<void> {
    return this.context.close();
  }
}
