// Shared parts of the adversarial tests (and of scripts/soak): clients bound to their own loopback address, an
// honest pair that checks its sequenced traffic, and a scope that closes everything a test opened.
import { createConnection, type Socket } from 'node:net';
import WebSocket from 'ws';
import { WebSocketFactory, WebSocketHub, type VnfSocket, type WebSocketEndpoint, type WebSocketFactoryOptions } from '@vnf/websocket-hub';
import { FrameWriter, RecordKind } from '@vnf/protocol';
import { RawClient } from '../rawClient';

/**
 * The loopback namespace routes all of 127/8, so each address is a distinct client to the broker's per-client
 * budgets. Honest clients use HONEST; each attacker gets addresses of its own.
 */
export const HONEST = '127.0.0.2';
export const ATTACKERS = ['127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6', '127.0.0.7', '127.0.0.8', '127.0.0.9'];

/** Close codes of docs/protocol.md, spelled out: the old broker's CloseCode lacks some of them. */
export const Close = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  EVA_IN_USE: 4003,
  RATE_LIMITED: 4006,
  CLIENT_LIMIT: 4008,
} as const;

/** A WebSocketFactory whose sockets leave from `localAddress`; it keeps each socket it made and their close codes. */
export class BoundFactory extends WebSocketFactory {
  readonly sockets: WebSocket[] = [];
  readonly closeCodes: number[] = [];

  constructor(
    url: string,
    readonly localAddress: string,
    options: WebSocketFactoryOptions = {},
  ) {
    super(url, options);
  }

  override create(): VnfSocket {
    const ws = new WebSocket(this.url, { localAddress: this.localAddress });
    ws.binaryType = 'arraybuffer';
    ws.on('close', (code: number) => this.closeCodes.push(code));
    this.sockets.push(ws);
    return ws as unknown as VnfSocket;
  }

  /** The socket in use now (the last one made). */
  get current(): WebSocket {
    const ws = this.sockets[this.sockets.length - 1];
    if (!ws) throw new Error(`no socket made yet from ${this.localAddress}`);
    return ws;
  }
}

/** Connects a raw client from `address`. */
export function rawConnect(url: string, address: string): Promise<RawClient> {
  return RawClient.connect(url, { localAddress: address });
}

/** Connects a raw client from `address` and registers it; resolves [client, session token]. */
export async function rawRegister(url: string, eva: string, address: string, extra: Record<string, unknown> = {}): Promise<[RawClient, string]> {
  const client = await rawConnect(url, address);
  const welcome = await client.hello(eva, extra);
  if (welcome.t !== 'welcome') {
    client.ws.terminate();
    throw new Error(`${eva} from ${address} was not welcomed: ${JSON.stringify(welcome)}`);
  }
  return [client, welcome.session];
}

/** One binary frame of CONTROL records. */
export function controlFrame(messages: object[]): Uint8Array {
  const writer = new FrameWriter(64 * messages.length);
  for (const m of messages) writer.writeRecord(RecordKind.CONTROL, '', JSON.stringify(m));
  return writer.finish();
}

type Reply = { t: 'result'; id: number; result: unknown } | { t: 'failure'; id: number; code: string; message: string };

/** The replies (result or failure) `client` got for `ids`, waiting for all of them. */
export async function replies(client: RawClient, ids: number[], ms = 20_000): Promise<Map<number, Reply>> {
  const wanted = new Set(ids);
  const found = new Map<number, Reply>();
  let scanned = 0;
  await client.until(
    () => {
      for (; scanned < client.controls.length; scanned++) {
        const m = client.controls[scanned] as Reply;
        if ((m.t === 'result' || m.t === 'failure') && wanted.has(m.id)) found.set(m.id, m);
      }
      return found.size === wanted.size || undefined;
    },
    `${ids.length} replies (have ${found.size})`,
    ms,
  );
  return found;
}

/** Sends calls in frames of at most `perFrame` (the broker's calls-in-flight budget), each frame after the previous one's replies. */
export async function callAll(client: RawClient, calls: { method: string; params?: unknown }[], firstId: number, perFrame = 16): Promise<Reply[]> {
  const out: Reply[] = [];
  for (let i = 0; i < calls.length; i += perFrame) {
    const batch = calls.slice(i, i + perFrame).map((c, j) => ({ t: 'call', id: firstId + i + j, ...c }));
    client.ws.send(controlFrame(batch));
    const got = await replies(client, batch.map((c) => c.id));
    for (const c of batch) out.push(got.get(c.id)!);
  }
  return out;
}

/**
 * Resolves once `condition` holds, polling; rejects after `ms` with `what` (and `describe()`). Not @vnf/conformance's
 * `until`: this file also runs in the soak, outside jest, and @vnf/conformance imports @jest/globals.
 */
export function until(what: string, condition: () => boolean, ms = 10_000, describe?: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (condition()) return resolve();
      if (Date.now() > deadline) return reject(new Error(`Timed out after ${ms} ms waiting for ${what}${describe ? `: ${describe()}` : ''}`));
      // From an immediate, not the timer's own callback: a tracker would count a still-running timer as alive.
      setTimeout(() => setImmediate(check), 5);
    };
    check();
  });
}

/** Resolves on the next turn of the event loop (lets I/O run). */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** TCP connections that never send a byte (unless the test writes to one); counts those the server closed. */
export class IdleConnections {
  readonly sockets: Socket[] = [];
  connected = 0;
  closed = 0;
  /** Closed by the server, not by us. */
  closedByServer = 0;
  private readonly ours = new Set<Socket>();

  open(port: number, address: string, count: number): void {
    for (let i = 0; i < count; i++) {
      const socket = createConnection({ port, host: '127.0.0.1', localAddress: address });
      socket.on('connect', () => this.connected++);
      socket.on('error', () => undefined);
      // Reads (and drops) what the server answers, such as a 408: an unread answer would hold back the close.
      socket.resume();
      socket.on('close', () => {
        this.closed++;
        if (!this.ours.has(socket)) this.closedByServer++;
      });
      this.sockets.push(socket);
    }
  }

  describe(): string {
    return JSON.stringify({ opened: this.sockets.length, connected: this.connected, closed: this.closed, closedByServer: this.closedByServer });
  }

  get stillOpen(): number {
    return this.sockets.length - this.closed;
  }

  /** Closes what is still open (that does not count as closed by the server) and waits for every close. */
  async destroyAll(): Promise<void> {
    for (const s of this.sockets) {
      this.ours.add(s);
      s.destroy();
    }
    await until('idle connections to close', () => this.closed === this.sockets.length);
  }
}

/**
 * Two WebSocketHub endpoints on one address sending sequence numbers to each other; each side checks that what it
 * gets from its partner is exactly the next number: anything lost, duplicated or reordered is a violation.
 */
export class HonestPair {
  readonly violations: string[] = [];
  /** `offline` events and lost connections to the partner: an honest disconnection. */
  readonly disconnections: string[] = [];
  readonly errors: string[] = [];
  /** Messages from anyone but the partner (attackers). */
  strangers = 0;
  private readonly sent = { a: 0, b: 0 };
  private readonly got = { a: 0, b: 0 };
  private waiters: (() => void)[] = [];

  private constructor(
    readonly hub: WebSocketHub,
    readonly factory: BoundFactory,
    readonly a: WebSocketEndpoint,
    readonly b: WebSocketEndpoint,
  ) {
    this.watch(a, b, 'a');
    this.watch(b, a, 'b');
  }

  static async open(url: string, label = 'honest', address = HONEST, options: WebSocketFactoryOptions = {}): Promise<HonestPair> {
    const factory = new BoundFactory(url, address, options);
    const hub = new WebSocketHub(factory);
    const tag = Math.random().toString(36).slice(2, 8);
    const a = hub.openEndpoint(`${label}-a-${tag}`);
    const b = hub.openEndpoint(`${label}-b-${tag}`);
    const pair = new HonestPair(hub, factory, a, b);
    const opened = await a.openConnection(b.eva);
    if (opened.status !== 'CONNECTED') {
      await hub.close();
      throw new Error(`the honest pair could not connect: ${JSON.stringify(opened)}`);
    }
    await until('the honest pair to be connected both ways', () => b.isConnected(a.eva));
    return pair;
  }

  /** Messages each side received in order so far. */
  get delivered(): number {
    return Math.min(this.got.a, this.got.b);
  }

  /** Sends the next sequence number each way, without waiting. */
  sendOne(): void {
    this.a.send(this.b.eva, String(this.sent.a++));
    this.b.send(this.a.eva, String(this.sent.b++));
  }

  /** Sends `n` more sequence numbers each way and waits until both sides got all of them. */
  async exchange(n: number, ms = 20_000): Promise<void> {
    for (let i = 0; i < n; i++) this.sendOne();
    await this.settled(ms);
  }

  /** Waits until everything sent so far arrived (or a violation or disconnection makes that impossible). */
  settled(ms = 20_000): Promise<void> {
    const done = (): boolean => (this.got.b >= this.sent.a && this.got.a >= this.sent.b) || this.violations.length > 0;
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== wake);
        reject(new Error(`the honest pair did not get its messages within ${ms} ms: ${this.describe()}`));
      }, ms);
      const wake = (): void => {
        if (!done()) return;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== wake);
        resolve();
      };
      this.waiters.push(wake);
    });
  }

  /** Exchanges messages in rounds until `stop()` is called; the promise rejects on the first failure. */
  background(roundSize = 10): { stop: () => Promise<number> } {
    let running = true;
    let rounds = 0;
    const loop = (async () => {
      while (running) {
        await this.exchange(roundSize);
        rounds++;
      }
    })();
    // Reported when stopped; keeps an early failure from being an unhandled rejection meanwhile.
    loop.catch(() => undefined);
    return {
      stop: async () => {
        running = false;
        await loop;
        return rounds * roundSize;
      },
    };
  }

  describe(): string {
    return JSON.stringify({ sent: this.sent, got: this.got, violations: this.violations.slice(0, 5), disconnections: this.disconnections });
  }

  /** Throws unless everything arrived in order and nobody was disconnected. */
  assertHealthy(): void {
    if (this.violations.length > 0 || this.disconnections.length > 0 || this.got.b !== this.sent.a || this.got.a !== this.sent.b) {
      throw new Error(`the honest pair was harmed: ${this.describe()}`);
    }
  }

  close(): Promise<void> {
    return this.hub.close();
  }

  private watch(self: WebSocketEndpoint, partner: WebSocketEndpoint, side: 'a' | 'b'): void {
    self.on('offline', () => this.disconnections.push(`${side} offline`));
    self.on('error', (error) => this.errors.push(`${side}: ${error.code} ${error.message.slice(0, 120)}`));
    self.onConnectionLost((eva) => {
      if (eva === partner.eva) this.disconnections.push(`${side} lost its partner`);
    });
    self.onMessage = (event) => {
      if (event.sourceEva !== partner.eva) {
        this.strangers++;
        return;
      }
      const expected = this.got[side];
      if (event.message === String(expected)) this.got[side]++;
      else this.violations.push(`${side} expected ${expected}, got ${String(event.message).slice(0, 40)}`);
      for (const wake of [...this.waiters]) wake();
    };
  }
}

/** Closes what a test opened, in reverse order: the broker, registered first, closes last. Idempotent. */
export class Scope {
  private readonly closers: (() => unknown)[] = [];
  private closing: Promise<void> | null = null;

  add<T extends { close(): unknown }>(thing: T): T {
    this.closers.push(() => thing.close());
    return thing;
  }

  defer(fn: () => unknown): void {
    this.closers.push(fn);
  }

  close(): Promise<void> {
    if (!this.closing) {
      this.closing = (async () => {
        const errors: unknown[] = [];
        for (const close of this.closers.reverse()) {
          try {
            await close();
          } catch (err) {
            errors.push(err);
          }
        }
        if (errors.length > 0) throw errors[0];
      })();
    }
    return this.closing;
  }
}
