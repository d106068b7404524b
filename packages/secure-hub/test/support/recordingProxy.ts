// A loopback TCP proxy in front of a real broker that records every byte it carries, both ways, and reads the
// WebSocket frames in them (RFC 6455: client-to-server frames masked, server-to-client not), so a test can search
// what the broker's clients really sent and received, and rewrite payload bytes of a frame before it is forwarded.
import net from 'node:net';

/** `up`: client to broker (masked frames); `down`: broker to client. */
export type Direction = 'up' | 'down';

/** One WebSocket frame as it crossed the proxy. */
export interface WsFrame {
  readonly connection: ProxiedConnection;
  readonly direction: Direction;
  readonly opcode: number;
  readonly fin: boolean;
  readonly rsv: number;
  /** The payload, unmasked. */
  readonly payload: Buffer;
  /** `proxy.bytes` when the frame was complete (to tell phases apart). */
  readonly at: number;
}

export interface ProxiedConnection {
  readonly id: number;
  /** The eva of the hello this client sent, once seen. */
  eva: string | null;
  /** The HTTP upgrade request and response heads. */
  requestHead: string;
  responseHead: string;
}

/**
 * Sees every complete frame before it is forwarded; may return a payload of the same length to forward instead
 * (the proxy masks it again with the frame's own key).
 */
export type FrameTamper = (frame: WsFrame) => Buffer | undefined | void;

const HEAD_END = Buffer.from('\r\n\r\n');

export class RecordingProxy {
  /** Every chunk read from either side, as read, in order: the recording. */
  readonly chunks: Buffer[] = [];
  /** Bytes recorded so far (both directions). */
  bytes = 0;
  readonly bytesBy: Record<Direction, number> = { up: 0, down: 0 };
  /** Every frame read, in order, unmasked. */
  readonly frames: WsFrame[] = [];
  readonly connections: ProxiedConnection[] = [];
  /** Anything that would make the unmasked frames an incomplete view: compression (RSV1), an extension negotiated. */
  readonly anomalies: string[] = [];
  tamper: FrameTamper | null = null;
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  static async start(target: { host: string; port: number }): Promise<RecordingProxy> {
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const proxy = new RecordingProxy(server, (server.address() as net.AddressInfo).port);
    server.on('connection', (client) => proxy.accept(client, target));
    return proxy;
  }

  /** The URL a WebSocketFactory uses to reach the broker through this proxy. */
  url(path = '/webbroker/vnf-ws'): string {
    return `ws://127.0.0.1:${this.port}${path}`;
  }

  /** The whole recording, as one buffer. */
  recording(): Buffer {
    return Buffer.concat(this.chunks);
  }

  /** Every frame's unmasked payload, back to back (both directions). */
  unmaskedPayloads(from = 0): Buffer {
    return Buffer.concat(this.frames.filter((f) => f.at >= from).map((f) => f.payload));
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket, target: { host: string; port: number }): void {
    const upstream = net.connect(target.port, target.host);
    const connection: ProxiedConnection = { id: this.connections.length, eva: null, requestHead: '', responseHead: '' };
    this.connections.push(connection);
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.setNoDelay(true);
      socket.on('error', () => undefined); // the other side's close follows
      socket.on('close', () => {
        this.sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    const up = new FrameReader(this, connection, 'up', (bytes) => upstream.write(bytes));
    const down = new FrameReader(this, connection, 'down', (bytes) => client.write(bytes));
    client.on('data', (chunk: Buffer) => up.read(chunk));
    upstream.on('data', (chunk: Buffer) => down.read(chunk));
  }

  /** @internal */
  record(direction: Direction, chunk: Buffer): void {
    this.chunks.push(Buffer.from(chunk));
    this.bytes += chunk.length;
    this.bytesBy[direction] += chunk.length;
  }
}

/** One direction of one connection: the HTTP head, then frames; forwards each frame once it is complete. */
class FrameReader {
  private pending: Buffer = Buffer.alloc(0);
  private inHead = true;

  constructor(
    private readonly proxy: RecordingProxy,
    private readonly connection: ProxiedConnection,
    private readonly direction: Direction,
    private readonly forward: (bytes: Buffer) => void,
  ) {}

  read(chunk: Buffer): void {
    this.proxy.record(this.direction, chunk);
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    if (this.inHead) {
      const end = this.pending.indexOf(HEAD_END);
      if (end < 0) return;
      const head = this.pending.subarray(0, end + HEAD_END.length);
      const text = head.toString('latin1');
      if (this.direction === 'up') this.connection.requestHead = text;
      else {
        this.connection.responseHead = text;
        if (/^sec-websocket-extensions:/im.test(text)) this.proxy.anomalies.push(`connection ${this.connection.id} negotiated an extension`);
      }
      this.forward(Buffer.from(head));
      this.pending = this.pending.subarray(head.length);
      this.inHead = false;
    }
    for (;;) {
      const frame = this.nextFrame();
      if (!frame) break;
      this.forward(frame);
    }
  }

  /** The next complete frame's bytes (payload possibly rewritten), or null when more bytes are needed. */
  private nextFrame(): Buffer | null {
    const b = this.pending;
    if (b.length < 2) return null;
    const masked = (b[1]! & 0x80) !== 0;
    let length = b[1]! & 0x7f;
    let at = 2;
    if (length === 126) {
      if (b.length < 4) return null;
      length = b.readUInt16BE(2);
      at = 4;
    } else if (length === 127) {
      if (b.length < 10) return null;
      length = Number(b.readBigUInt64BE(2));
      at = 10;
    }
    const maskAt = at;
    if (masked) at += 4;
    if (b.length < at + length) return null;
    const bytes = Buffer.from(b.subarray(0, at + length)); // a copy: it may be rewritten
    this.pending = b.subarray(at + length);
    const mask = masked ? bytes.subarray(maskAt, maskAt + 4) : null;
    const payload = Buffer.from(bytes.subarray(at));
    if (mask) for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i & 3]!;
    const opcode = bytes[0]! & 0x0f;
    const rsv = (bytes[0]! >> 4) & 0x07;
    if (rsv !== 0) this.proxy.anomalies.push(`connection ${this.connection.id}: a frame with RSV bits ${rsv}`);
    if (this.direction !== (masked ? 'up' : 'down')) this.proxy.anomalies.push(`connection ${this.connection.id}: a ${this.direction} frame ${masked ? '' : 'not '}masked`);
    const frame: WsFrame = { connection: this.connection, direction: this.direction, opcode, fin: (bytes[0]! & 0x80) !== 0, rsv, payload, at: this.proxy.bytes };
    this.proxy.frames.push(frame);
    if (this.direction === 'up' && opcode === 1 && this.connection.eva === null) {
      try {
        const hello = JSON.parse(payload.toString('utf8')) as { t?: string; eva?: string };
        if (hello.t === 'hello' && typeof hello.eva === 'string') this.connection.eva = hello.eva;
      } catch {
        // not a hello
      }
    }
    const replacement = this.proxy.tamper?.(frame);
    if (replacement) {
      if (replacement.length !== length) throw new Error('a rewritten frame payload must keep its length');
      for (let i = 0; i < length; i++) bytes[at + i] = replacement[i]! ^ (mask ? mask[i & 3]! : 0);
    }
    return bytes;
  }
}

// ---- the broker's binary frames (docs/protocol.md): batches of records --------------------------------------

export const BrokerKind = { CONTROL: 0, TEXT: 1, BINARY: 2, GROUP_TEXT: 3, GROUP_BINARY: 4 } as const;

export interface BrokerRecord {
  readonly kind: number;
  readonly eva: string;
  readonly payload: Buffer;
  /** Where the payload starts in the frame's payload. */
  readonly offset: number;
}

/** The records of one binary frame of the broker protocol (`kind u8 | evaLength u16 | eva | payloadLength u32 | payload`). */
export function brokerRecords(framePayload: Buffer): BrokerRecord[] {
  const records: BrokerRecord[] = [];
  let at = 0;
  while (at + 7 <= framePayload.length) {
    const kind = framePayload[at]!;
    const evaLength = framePayload.readUInt16BE(at + 1);
    const eva = framePayload.subarray(at + 3, at + 3 + evaLength).toString('utf8');
    const lengthAt = at + 3 + evaLength;
    const length = framePayload.readUInt32BE(lengthAt);
    const offset = lengthAt + 4;
    records.push({ kind, eva, payload: framePayload.subarray(offset, offset + length), offset });
    at = offset + length;
  }
  if (at !== framePayload.length) throw new Error(`a broker frame of ${framePayload.length} bytes does not end with its last record`);
  return records;
}

/** Every record of the broker's binary frames among `frames`, with the frame it came in. */
export function brokerRecordsOf(frames: readonly WsFrame[]): Array<BrokerRecord & { frame: WsFrame }> {
  return frames.filter((f) => f.opcode === 2).flatMap((frame) => brokerRecords(frame.payload).map((record) => ({ ...record, frame })));
}

/** How often `needle` occurs in `haystack`. */
export function occurrences(haystack: Buffer, needle: Buffer): number {
  let count = 0;
  for (let at = haystack.indexOf(needle); at >= 0; at = haystack.indexOf(needle, at + 1)) count++;
  return count;
}
