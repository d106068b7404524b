import { InBrowserHub } from '@vnf/in-browser-hub';
import type { InBrowserHubOptions } from '@vnf/in-browser-hub';
import type { Endpoint, Hub, MessageEvent, VnfError } from '@vnf/core';
import { MarshallerHub } from '../../src';
import type { MarshallerEndpoint, MarshallerHubOptions } from '../../src';

export const WAIT_MS = 20_000;

/** Resolves with the first event `register` reports, or rejects after `timeoutMs`. */
export function waitFor<T>(what: string, register: (done: (value: T) => void) => () => void, timeoutMs = WAIT_MS): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let unregister: () => void = () => {};
    const timer = setTimeout(() => {
      unregister();
      reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    unregister = register((value) => {
      clearTimeout(timer);
      unregister();
      resolve(value);
    });
  });
}

/** Records every message and error an endpoint reports, and waits for more. */
export class Recorder {
  readonly messages: unknown[] = [];
  readonly errors: VnfError[] = [];
  readonly events: string[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(endpoint: Endpoint, label = (message: unknown) => describe(message)) {
    endpoint.on('message', (event: MessageEvent) => {
      this.messages.push(event.message);
      this.events.push(`message:${label(event.message)}`);
      this.notify();
    });
    endpoint.on('error', (error) => {
      this.errors.push(error);
      this.events.push(`error:${error.code}`);
      this.notify();
    });
    endpoint.on('connectionLost', (peer) => {
      this.events.push(`lost:${peer}`);
      this.notify();
    });
  }

  /** Waits until `condition` holds, re-checked on every recorded event. */
  until(what: string, condition: () => boolean, timeoutMs = WAIT_MS): Promise<void> {
    if (condition()) return Promise.resolve();
    return waitFor<void>(
      `${what} (recorded: ${this.events.join(', ') || 'nothing'})`,
      (done) => {
        const check = (): void => {
          if (condition()) done();
        };
        this.waiters.add(check);
        return () => this.waiters.delete(check);
      },
      timeoutMs,
    );
  }

  messageCount(n: number): Promise<void> {
    return this.until(`${n} message(s)`, () => this.messages.length >= n);
  }

  errorCount(n: number): Promise<void> {
    return this.until(`${n} error(s)`, () => this.errors.length >= n);
  }

  private notify(): void {
    for (const check of [...this.waiters]) check();
  }
}

function describe(message: unknown): string {
  if (message instanceof Uint8Array) return `binary(${message.byteLength})`;
  if (typeof message === 'string') return message.length > 40 ? `string(${message.length})` : message;
  return JSON.stringify(message)?.slice(0, 40) ?? String(message);
}

/** Waits until `endpoint` reports a connection to `peer` (or already has one). */
export function connectionTo(endpoint: Endpoint, peer: string): Promise<void> {
  if (endpoint.isConnected(peer)) return Promise.resolve();
  return waitFor<void>(`${endpoint.eva} connected to ${peer}`, (done) => {
    const listener = (p: string): void => {
      if (p === peer) done();
    };
    endpoint.on('connection', listener);
    return () => endpoint.off('connection', listener);
  });
}

/** Connects `from` to `to` and waits until both sides see the connection. */
export async function connect(from: Endpoint, to: Endpoint): Promise<void> {
  const accepted = connectionTo(to, from.eva);
  const event = await from.openConnection(to.eva);
  if (event.status !== 'CONNECTED') throw new Error(`openConnection ended in ${event.status} (${event.reason})`);
  await accepted;
}

/** Hubs a test opened; `closeAll` in afterEach closes them. */
const openHubs: Hub[] = [];

export function track<H extends Hub>(hub: H): H {
  openHubs.push(hub);
  return hub;
}

export async function closeAll(): Promise<void> {
  await Promise.all(openHubs.splice(0).map((hub) => hub.close()));
}

/** Two connected endpoints `a` → `b` of a MarshallerHub over an InBrowserHub. */
export async function marshallerPair(
  options: MarshallerHubOptions = {},
  innerOptions: InBrowserHubOptions = {},
): Promise<{ hub: MarshallerHub; a: MarshallerEndpoint; b: MarshallerEndpoint; atA: Recorder; atB: Recorder }> {
  const hub = track(new MarshallerHub(new InBrowserHub(innerOptions), options));
  const a = hub.openEndpoint('a');
  const b = hub.openEndpoint('b');
  const atA = new Recorder(a);
  const atB = new Recorder(b);
  await connect(a, b);
  return { hub, a, b, atA, atB };
}

/** Bytes whose value depends on position and `seed`, so a misplaced chunk shows. */
export function pattern(length: number, seed = 0): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + seed + (i >>> 8)) & 0xff;
  return bytes;
}

/** Byte equality without jest's slow element-wise diff on multi-MB arrays. */
export function sameBytes(actual: unknown, expected: Uint8Array): boolean {
  if (!(actual instanceof Uint8Array) || actual.byteLength !== expected.byteLength) return false;
  return Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength).equals(
    Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength),
  );
}
