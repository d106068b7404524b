// A client that speaks the wire protocol by hand, to test the broker with input WebSocketHub never sends.
import WebSocket from 'ws';
import { FrameWriter, PROTOCOL_VERSION, RecordKind, readRecords, type BrokerMessage } from '@vnf/protocol';

const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

export interface Received {
  source: string;
  payload: string | Uint8Array;
}

export class RawClient {
  readonly controls: BrokerMessage[] = [];
  readonly data: Received[] = [];
  closeCode: number | null = null;
  closeReason = '';
  readonly closed: Promise<number>;
  readonly opened: Promise<void>;
  private waiters: (() => void)[] = [];

  constructor(
    readonly ws: WebSocket,
  ) {
    this.opened = new Promise((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      ws.once('close', (code, reason) => {
        this.closeCode = code;
        this.closeReason = reason.toString();
        this.wake();
        resolve(code);
      }),
    );
    ws.on('message', (data: Buffer, isBinary) => {
      if (!isBinary) this.controls.push(JSON.parse(data.toString()));
      else
        readRecords(data, (kind, frame, es, ee, ps, pe) => {
          if (kind === RecordKind.CONTROL) this.controls.push(JSON.parse(decoder.decode(frame.subarray(ps, pe))));
          else {
            const payload = kind === RecordKind.TEXT ? decoder.decode(frame.subarray(ps, pe)) : frame.slice(ps, pe);
            this.data.push({ source: decoder.decode(frame.subarray(es, ee)), payload });
          }
        });
      this.wake();
    });
  }

  static async connect(url: string, options: WebSocket.ClientOptions = {}): Promise<RawClient> {
    const client = new RawClient(new WebSocket(url, options));
    await client.opened;
    return client;
  }

  /** Connects and registers `eva`; resolves the welcome's session token. */
  static async register(url: string, eva: string, extra: Record<string, unknown> = {}): Promise<[RawClient, string]> {
    const client = await RawClient.connect(url);
    const welcome = await client.hello(eva, extra);
    if (welcome.t !== 'welcome') throw new Error(`not welcomed: ${JSON.stringify(welcome)}`);
    return [client, welcome.session];
  }

  hello(eva: string, extra: Record<string, unknown> = {}): Promise<BrokerMessage> {
    this.ws.send(JSON.stringify({ t: 'hello', v: PROTOCOL_VERSION, role: 'endpoint', eva, ...extra }));
    return this.control((m) => m.t === 'welcome' || m.t === 'error').catch((err) => {
      if (this.closeCode !== null) return { t: 'error', code: String(this.closeCode), message: this.closeReason } as BrokerMessage;
      throw err;
    });
  }

  sendControl(message: object): void {
    const writer = new FrameWriter();
    writer.writeRecord(RecordKind.CONTROL, '', JSON.stringify(message));
    this.ws.send(writer.finish());
  }

  sendText(to: string, text: string): void {
    const writer = new FrameWriter();
    writer.writeRecord(RecordKind.TEXT, to, text);
    this.ws.send(writer.finish());
  }

  /** Sends one frame holding `records` ([kind, eva or group id, payload]), in order. */
  sendRecords(records: [RecordKind, string, string | Uint8Array][]): void {
    const writer = new FrameWriter();
    for (const [kind, eva, payload] of records) writer.writeRecord(kind, eva, payload);
    this.ws.send(writer.finish());
  }

  /** Resolves the first control message (already received or coming) matching `match`. */
  control<T extends BrokerMessage = BrokerMessage>(match: (m: BrokerMessage) => boolean, ms = 10_000): Promise<T> {
    return this.until(() => this.controls.find(match) as T | undefined, 'a matching control message', ms);
  }

  async until<T>(probe: () => T | undefined, what: string, ms = 10_000): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = probe();
      if (found !== undefined && found !== false) return found;
      if (this.closeCode !== null) throw new Error(`socket closed (${this.closeCode} ${this.closeReason}) while waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; controls: ${JSON.stringify(this.controls).slice(0, 500)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Resolves the close code, or rejects after `ms`. */
  closedWithin(ms = 10_000): Promise<number> {
    let timer!: ReturnType<typeof setTimeout>;
    return Promise.race([
      this.closed.finally(() => clearTimeout(timer)),
      new Promise<number>((_, reject) => (timer = setTimeout(() => reject(new Error('socket not closed in time')), ms))),
    ]);
  }

  close(): Promise<number> {
    if (this.closeCode === null) this.ws.terminate();
    return this.closed;
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

/** Registers two raw clients and connects the first to the second. */
export async function rawPair(url: string, a: string, b: string): Promise<[RawClient, RawClient]> {
  const [ca] = await RawClient.register(url, a);
  const [cb] = await RawClient.register(url, b);
  ca.sendControl({ t: 'open', to: b });
  await ca.control((m) => m.t === 'opened');
  await cb.control((m) => m.t === 'accept');
  return [ca, cb];
}
