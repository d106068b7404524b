// The protocol fuzz: fast-check arbitraries of what an attacker can put on the wire, and a driver that sends them
// from attacker sockets (registered ones, and fresh ones whose first frame is the fuzzed one). Used by
// fuzz.test.ts (2 × 10⁴ frames) and by scripts/soak (10⁶).
import fc from 'fast-check';
import { FrameWriter, RecordKind } from '@vnf/protocol';
import type { RawClient } from '../rawClient';
import { ATTACKERS, rawConnect, rawRegister, turn, until } from './support';

/** One fuzzed frame: sent on a registered attacker socket, or as the first frame of a fresh socket. */
export interface FuzzFrame {
  on: 'registered' | 'fresh';
  /** Which registered socket (modulo the pool) or `rpc` role for the fresh one. */
  pick: number;
  /** Text frame, binary frame, or 'huge': a binary frame one byte over maxPayload (built when sent). */
  data: string | Uint8Array | 'huge';
}

const METHODS = ['registry.create', 'registry.update', 'registry.delete', 'registry.get', 'registry.list', 'registry.watch', 'registry.unwatch'];

/** Arbitrary of fuzzed frames; `evas` are names worth aiming at (honest and attacker evas). */
export function fuzzFrameArbitrary(evas: string[]): fc.Arbitrary<FuzzFrame> {
  const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
  const eva = fc.oneof(
    { arbitrary: fc.constantFrom(...evas), weight: 6 },
    { arbitrary: fc.constant(''), weight: 1 },
    { arbitrary: fc.string({ maxLength: 12 }), weight: 2 },
    { arbitrary: fc.string({ unit: 'binary', maxLength: 8 }), weight: 1 },
    { arbitrary: fc.tuple(fc.constantFrom(...evas), loneSurrogate).map(([e, s]) => e + s), weight: 1 },
    { arbitrary: fc.string({ minLength: 250, maxLength: 300 }), weight: 1 },
  );
  const json = fc.jsonValue({ maxDepth: 2 });
  const registryParams = fc.record(
    {
      collection: fc.oneof(fc.constantFrom('fz', 'fz-big', 'honest'), fc.string({ maxLength: 8 })),
      name: fc.oneof(fc.constantFrom(...evas), fc.string({ maxLength: 8 })),
      value: fc.oneof(json, fc.string({ maxLength: 2000 })),
      watchId: fc.string({ maxLength: 70 }),
      after: fc.oneof(fc.constant(null), fc.string({ maxLength: 8 })),
    },
    { requiredKeys: [] },
  );
  const hello = fc.record(
    {
      t: fc.constant('hello'),
      v: fc.oneof({ arbitrary: fc.constant(1), weight: 4 }, { arbitrary: fc.integer(), weight: 1 }, { arbitrary: fc.constant('1'), weight: 1 }),
      role: fc.oneof({ arbitrary: fc.constantFrom('endpoint', 'rpc'), weight: 4 }, { arbitrary: fc.string({ maxLength: 6 }), weight: 1 }),
      eva,
      session: fc.oneof(fc.string({ maxLength: 30 }), fc.base64String({ minLength: 24, maxLength: 24 }), fc.string({ minLength: 4097, maxLength: 4100 })),
      auth: fc.string({ maxLength: 10 }),
    },
    { requiredKeys: ['t'] },
  );
  const control = fc.oneof(
    { arbitrary: fc.constant({ t: 'ping' }), weight: 2 },
    { arbitrary: fc.record({ t: fc.constantFrom('open', 'close'), to: eva }), weight: 6 },
    {
      arbitrary: fc.record(
        {
          t: fc.constant('call'),
          id: fc.oneof(fc.nat(), fc.integer(), fc.double(), fc.string({ maxLength: 4 }), fc.constant(null), fc.constant(2 ** 53)),
          method: fc.oneof({ arbitrary: fc.constantFrom(...METHODS), weight: 5 }, { arbitrary: fc.string({ maxLength: 300 }), weight: 1 }),
          params: fc.oneof({ arbitrary: registryParams, weight: 5 }, { arbitrary: fc.anything({ maxDepth: 2 }), weight: 1 }),
        },
        { requiredKeys: ['t'] },
      ),
      weight: 6,
    },
    { arbitrary: hello, weight: 2 },
    { arbitrary: fc.dictionary(fc.string({ maxLength: 4 }), json, { maxKeys: 4 }), weight: 1 },
    { arbitrary: fc.record({ t: fc.string({ maxLength: 10 }) }), weight: 1 },
  );
  const controlText = control.map((m) => JSON.stringify(m) ?? 'null');
  // A valid message cut short, with a character inserted, or with one removed.
  const garbled = fc.tuple(controlText, fc.nat(), fc.constantFrom('"', '{', '}', ',', ':', '\\', '\u0000', '\ud800', 'é')).map(([text, at, ch]) => {
    const i = at % (text.length + 1);
    switch (at % 3) {
      case 0:
        return text.slice(0, i);
      case 1:
        return text.slice(0, i) + ch + text.slice(i);
      default:
        return text.slice(0, i) + text.slice(i + 1);
    }
  });
  const textFrame = fc.oneof(
    { arbitrary: controlText, weight: 4 },
    { arbitrary: garbled, weight: 3 },
    { arbitrary: fc.string({ maxLength: 200 }), weight: 1 },
    { arbitrary: fc.json({ maxDepth: 2 }), weight: 1 },
  );
  const record = fc.oneof(
    { arbitrary: fc.record({ kind: fc.constant(0), eva: fc.constant(''), payload: fc.oneof(controlText, garbled) }), weight: 5 },
    {
      arbitrary: fc.record({
        kind: fc.constantFrom(1, 2),
        eva,
        payload: fc.oneof(fc.string({ maxLength: 200 }), fc.uint8Array({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 20 })),
      }),
      weight: 5,
    },
    // Wrong kinds, control records with an eva, message records without one, non-UTF-8 evas.
    {
      arbitrary: fc.record({
        kind: fc.integer({ min: 0, max: 255 }),
        eva: fc.oneof(eva, fc.uint8Array({ maxLength: 6 })),
        payload: fc.oneof(controlText, fc.uint8Array({ maxLength: 40 })),
      }),
      weight: 2,
    },
  );
  const corruption = fc.oneof(
    { arbitrary: fc.constant({ how: 'none' as const, at: 0, value: 0 }), weight: 12 },
    { arbitrary: fc.record({ how: fc.constantFrom('truncate' as const, 'flip' as const, 'evaLength' as const, 'payloadLength' as const, 'tail' as const), at: fc.nat(), value: fc.nat() }), weight: 4 },
    { arbitrary: fc.record({ how: fc.constant('hugeLength' as const), at: fc.nat(), value: fc.constantFrom(0xffffffff, 0x7fffffff, 0x100000) }), weight: 1 },
  );
  const binaryFrame = fc.tuple(fc.array(record, { minLength: 1, maxLength: 6 }), corruption).map(([records, c]) => corrupt(encode(records), c));
  const data = fc.oneof(
    { arbitrary: textFrame, weight: 3 },
    { arbitrary: binaryFrame, weight: 6 },
    { arbitrary: fc.uint8Array({ maxLength: 64 }), weight: 1 },
  );
  const registered = fc.record({
    on: fc.constant('registered' as const),
    pick: fc.nat(),
    data: fc.oneof({ arbitrary: data, weight: 2000 }, { arbitrary: fc.constant('huge' as const), weight: 1 }),
  });
  const fresh = fc.record({
    on: fc.constant('fresh' as const),
    pick: fc.nat(),
    data: fc.oneof({ arbitrary: hello.map((h) => JSON.stringify(h)), weight: 6 }, { arbitrary: data, weight: 2 }),
  });
  return fc.oneof({ arbitrary: registered, weight: 97 }, { arbitrary: fresh, weight: 3 });
}

/** Hellos a fuzz run always includes: claims of each honest eva, in both roles, without or with a made-up token. */
export function directedFrames(honestEvas: string[]): FuzzFrame[] {
  const frames: FuzzFrame[] = [];
  for (const eva of honestEvas) {
    for (const role of ['endpoint', 'rpc']) {
      for (const session of [undefined, 'A'.repeat(24), '']) {
        frames.push({ on: 'fresh', pick: 0, data: JSON.stringify({ t: 'hello', v: 1, role, eva, session }) });
      }
    }
  }
  return frames;
}

/** The eva a fresh socket's first frame claims, if it is a hello. */
function helloEva(data: FuzzFrame['data']): string | undefined {
  if (typeof data !== 'string') return undefined;
  try {
    const m = JSON.parse(data) as { t?: unknown; eva?: unknown };
    return m && m.t === 'hello' && typeof m.eva === 'string' ? m.eva : undefined;
  } catch {
    return undefined;
  }
}

interface RecordSpec {
  kind: number;
  eva: string | Uint8Array;
  payload: string | Uint8Array;
}

function encode(records: RecordSpec[]): Uint8Array {
  const writer = new FrameWriter();
  const kinds: [number, number][] = [];
  for (const r of records) {
    kinds.push([writer.length, r.kind]);
    writer.writeRecord(Math.min(r.kind, 2) as RecordKind, r.eva, r.payload);
  }
  const frame = writer.finish().slice();
  for (const [at, kind] of kinds) frame[at] = kind;
  return frame;
}

function corrupt(frame: Uint8Array, c: { how: string; at: number; value: number }): Uint8Array {
  if (c.how === 'none' || frame.length === 0) return frame;
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const out = frame.slice();
  const outView = new DataView(out.buffer);
  const evaLength = view.getUint16(1);
  switch (c.how) {
    case 'truncate':
      return frame.subarray(0, c.at % frame.length);
    case 'flip':
      out[c.at % out.length] ^= 1 + (c.value % 255);
      return out;
    case 'evaLength':
      outView.setUint16(1, c.value % 0x10000);
      return out;
    case 'payloadLength':
    case 'hugeLength':
      if (3 + evaLength + 4 <= out.length) outView.setUint32(3 + evaLength, c.how === 'hugeLength' ? c.value : c.value % (out.length * 2));
      return out;
    default: {
      const tail = new Uint8Array(1 + (c.value % 7)).map((_, i) => (c.at + i * 31) & 0xff);
      const joined = new Uint8Array(out.length + tail.length);
      joined.set(out);
      joined.set(tail, out.length);
      return joined;
    }
  }
}

/** Close codes an attacker socket may end with (docs/protocol.md), besides 1000 when we closed it ourselves. */
export const ATTACKER_CLOSE_CODES = new Set([1000, 1006, 1007, 1009, 4000, 4002, 4003, 4006, 4008]);

export interface FuzzStats {
  frames: number;
  freshSockets: number;
  /** Close codes of attacker sockets (registered and fresh), by code. */
  closes: Record<string, number>;
  /** Fresh sockets that got a welcome (random but valid hellos). */
  welcomed: number;
  /** Registrations of pool sockets the broker refused (name taken by a fuzzed hello, or the address at its budget). */
  refusedRegistrations: number;
  /** Anything the broker should never do: a code outside the documented set, no answer to a fresh socket. */
  anomalies: string[];
}

/**
 * Sends fuzzed frames from a pool of registered attacker sockets (endpoints and rpc, replaced when the broker closes
 * one) and from fresh sockets, each from an attacker address of its own, so that per-client budgets are shared
 * by attackers only.
 */
export class Fuzzer {
  readonly stats: FuzzStats = { frames: 0, freshSockets: 0, closes: {}, welcomed: 0, refusedRegistrations: 0, anomalies: [] };
  private readonly pool: RawClient[] = [];
  private readonly freshInFlight = new Set<Promise<void>>();
  private readonly everyone = new Set<RawClient>();
  private nextEva = 0;
  private nextAddress = 0;

  private readonly honestEvas: string[];
  private readonly poolSize: number;
  private readonly addresses: string[];
  private readonly prefix: string;

  /**
   * `honestEvas` are held by honest clients throughout: a fresh socket welcomed under one of them (in either role)
   * would speak for someone else, an anomaly. The pool registers `${prefix}-0`, `${prefix}-1`, … from `addresses`.
   */
  constructor(
    private readonly url: string,
    private readonly maxPayload: number,
    options: { honestEvas?: string[]; poolSize?: number; addresses?: string[]; prefix?: string } = {},
  ) {
    this.honestEvas = options.honestEvas ?? [];
    this.poolSize = options.poolSize ?? 6;
    this.addresses = options.addresses ?? ATTACKERS.slice(0, 6);
    this.prefix = options.prefix ?? 'fz';
  }

  /** Evas a pool of `prefix` will register: worth aiming the fuzz at. */
  static evaNames(prefix = 'fz', count = 40): string[] {
    return Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  }

  async send(frames: FuzzFrame[], between?: (index: number) => void): Promise<void> {
    for (let i = 0; i < frames.length; i++) {
      const frame = frames[i];
      if (frame.on === 'fresh') this.fresh(frame);
      else {
        const socket = await this.registered(frame.pick);
        socket.ws.send(frame.data === 'huge' ? new Uint8Array(this.maxPayload + 1) : frame.data);
      }
      this.stats.frames++;
      between?.(i);
      if (i % 100 === 99) await this.breathe();
    }
    await Promise.all(this.freshInFlight);
  }

  /** Closes every attacker socket and counts how each ended. */
  async close(): Promise<void> {
    await Promise.all(this.freshInFlight);
    for (const c of this.pool.splice(0)) {
      if (c.closeCode === null) {
        c.ws.close(1000);
        await c.closedWithin().catch(() => c.close());
      }
      this.count(c);
    }
    await Promise.all([...this.everyone].map((c) => c.close()));
  }

  private address(): string {
    return this.addresses[this.nextAddress++ % this.addresses.length];
  }

  /** Lets I/O run, and waits while the attackers' own send buffers are full (as a real sender would). */
  private async breathe(): Promise<void> {
    await turn();
    for (const c of this.pool) {
      c.controls.splice(0);
      c.data.splice(0);
    }
    if (this.pool.some((c) => c.ws.bufferedAmount > 1 << 20)) {
      await until('the attackers to drain', () => this.pool.every((c) => c.closeCode !== null || c.ws.bufferedAmount < 1 << 18), 30_000);
    }
    while (this.freshInFlight.size >= 8) await Promise.race(this.freshInFlight);
  }

  private async registered(pick: number): Promise<RawClient> {
    for (let i = this.pool.length - 1; i >= 0; i--) {
      if (this.pool[i].closeCode !== null) this.count(this.pool.splice(i, 1)[0]);
    }
    let refusals = 0;
    while (this.pool.length < this.poolSize) {
      const eva = `${this.prefix}-${this.nextEva++}`;
      try {
        const [client] = await rawRegister(this.url, eva, this.address(), this.nextEva % 3 === 0 ? { role: 'rpc' } : {});
        this.everyone.add(client);
        this.pool.push(client);
      } catch (err) {
        // A fuzzed hello may have taken that name, or the address is at its budget: another name, another address.
        this.stats.refusedRegistrations++;
        if (++refusals === 50) throw new Error(`the broker refused 50 attacker registrations in a row; last: ${(err as Error).message}`);
      }
    }
    return this.pool[pick % this.pool.length];
  }

  private fresh(frame: FuzzFrame): void {
    this.stats.freshSockets++;
    const run = (async () => {
      const client = await rawConnect(this.url, this.address());
      this.everyone.add(client);
      client.ws.send(frame.data === 'huge' ? new Uint8Array(this.maxPayload + 1) : frame.data);
      const outcome = await client
        .until(() => client.controls.find((m) => m.t === 'welcome'), 'a welcome or a close', 10_000)
        .then(() => 'welcome' as const)
        .catch(() => (client.closeCode === null ? ('silent' as const) : ('closed' as const)));
      if (outcome === 'silent') this.stats.anomalies.push(`a fresh socket got no answer to ${String(frame.data).slice(0, 80)}`);
      if (outcome === 'welcome') {
        this.stats.welcomed++;
        const claimed = helloEva(frame.data);
        if (claimed !== undefined && this.honestEvas.includes(claimed)) {
          this.stats.anomalies.push(`an attacker was welcomed as the honest ${claimed}: ${String(frame.data).slice(0, 120)}`);
        }
        client.ws.close(1000);
        await client.closedWithin().catch(() => undefined);
      }
      this.count(client);
      await client.close();
      this.everyone.delete(client);
    })().catch((err: Error) => {
      this.stats.anomalies.push(`fresh socket: ${err.message}`);
    });
    const tracked = run.finally(() => this.freshInFlight.delete(tracked));
    this.freshInFlight.add(tracked);
  }

  private count(client: RawClient): void {
    const code = String(client.closeCode);
    this.stats.closes[code] = (this.stats.closes[code] ?? 0) + 1;
    if (!ATTACKER_CLOSE_CODES.has(client.closeCode ?? -1)) this.stats.anomalies.push(`an attacker socket closed with ${code} (${client.closeReason})`);
  }
}
