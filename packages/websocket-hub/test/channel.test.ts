// What the client reads from the broker is taken byte for byte: a leading BOM is part of an eva or a string,
// and bytes that are not UTF-8 are never turned into another string.
import WebSocket from 'ws';
import type { MessageEvent, VnfError } from '@vnf/core';
import { WebSocketFactory, WebSocketHub, type VnfSocket } from '../src';
import { FrameWriter, PROTOCOL_VERSION, RecordKind, readRecords } from '@vnf/protocol';
import { startBroker, until, type RunningBroker } from './brokerFixture';

let running: RunningBroker;
let hub: WebSocketHub;
const sockets: WebSocket[] = [];

/** A client speaking the protocol by hand, registered as `eva`, with an open connection to `to`. */
async function rawPeer(eva: string, to: string): Promise<WebSocket> {
  const socket = new WebSocket(running.url);
  sockets.push(socket);
  socket.on('error', () => undefined);
  const controls: { t: string }[] = [];
  socket.on('message', (data: Buffer, isBinary: boolean) => {
    if (!isBinary) return;
    readRecords(data, (kind, frame, _es, _ee, start, end) => {
      if (kind === RecordKind.CONTROL) controls.push(JSON.parse(Buffer.from(frame.subarray(start, end)).toString('utf8')));
    });
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  socket.send(JSON.stringify({ t: 'hello', v: PROTOCOL_VERSION, role: 'endpoint', eva }));
  await until(() => controls.some((m) => m.t === 'welcome'), `the welcome of ${eva}`);
  const writer = new FrameWriter();
  writer.writeRecord(RecordKind.CONTROL, '', JSON.stringify({ t: 'open', to }));
  socket.send(writer.finish());
  await until(() => controls.some((m) => m.t === 'opened'), `${eva} connected to ${to}`);
  return socket;
}

describe('Channel decoding', () => {
  beforeEach(async () => {
    running = await startBroker();
    hub = new WebSocketHub(running.factory());
  });
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.terminate();
    await hub.close();
    await running.close();
  });

  it('keeps a leading BOM: an eva and a string starting with U+FEFF arrive exactly', async () => {
    const bobMessages: MessageEvent[] = [];
    const atBomCarol: MessageEvent[] = [];
    const bob = hub.openEndpoint('bob');
    const bomCarol = hub.openEndpoint('\uFEFFcarol');
    const carol = hub.openEndpoint('carol');
    bob.on('message', (e) => bobMessages.push(e));
    bomCarol.on('message', (e) => atBomCarol.push(e));
    expect((await bomCarol.openConnection('bob')).status).toBe('CONNECTED');
    bomCarol.send('bob', '\uFEFF');
    bomCarol.send('bob', '\uFEFFtext after a BOM');
    bomCarol.send('bob', '\uFEFF\uFEFFtwo');
    await until(() => bobMessages.length === 3, 'three messages at bob', 5000);
    expect(bobMessages).toEqual([
      { sourceEva: '\uFEFFcarol', message: '\uFEFF' },
      { sourceEva: '\uFEFFcarol', message: '\uFEFFtext after a BOM' },
      { sourceEva: '\uFEFFcarol', message: '\uFEFF\uFEFFtwo' },
    ]);
    // A reply to the sourceEva bob saw reaches the endpoint that sent, not the one named "carol".
    bob.send(bobMessages[0]!.sourceEva, 'reply');
    await until(() => atBomCarol.length === 1, 'the reply at \\uFEFFcarol');
    expect(atBomCarol).toEqual([{ sourceEva: 'bob', message: 'reply' }]);
    expect(carol.connections()).toEqual([]);
  });

  it('drops a string that is not UTF-8 with a PROTOCOL error, and delivers the rest of its batch', async () => {
    const bob = hub.openEndpoint('bob');
    await bob.firstAttempt;
    const messages: MessageEvent[] = [];
    const errors: VnfError[] = [];
    bob.on('message', (e) => messages.push(e));
    bob.on('error', (e) => errors.push(e));
    const mallory = await rawPeer('mallory', 'bob');
    const writer = new FrameWriter();
    writer.writeRecord(RecordKind.TEXT, 'bob', 'before');
    // 0xFF never occurs in UTF-8; 0xED 0xA0 0x80 would be a lone surrogate.
    writer.writeRecord(RecordKind.TEXT, 'bob', Uint8Array.of(0x61, 0xff, 0x62));
    writer.writeRecord(RecordKind.TEXT, 'bob', Uint8Array.of(0x78, 0xed, 0xa0, 0x80));
    writer.writeRecord(RecordKind.TEXT, 'bob', 'after');
    mallory.send(writer.finish());
    // Records of one frame are read in order: once the last has arrived, the others have been handled.
    await until(() => messages.some((e) => e.message === 'after'), 'the last message at bob');
    expect(messages).toEqual([
      { sourceEva: 'mallory', message: 'before' },
      { sourceEva: 'mallory', message: 'after' },
    ]);
    expect(errors.map((e) => e.code)).toEqual(['PROTOCOL', 'PROTOCOL']);
    expect(errors[0]!.message).toContain('mallory');
  });
});

/** A socket the test plays the broker on: it records what the client sends and hands it what the test says. */
class ScriptedSocket implements VnfSocket {
  readyState = 0;
  bufferedAmount = 0;
  binaryType = '';
  onopen: VnfSocket['onopen'] = null;
  onmessage: VnfSocket['onmessage'] = null;
  onclose: VnfSocket['onclose'] = null;
  onerror: VnfSocket['onerror'] = null;
  readonly sent: (string | Uint8Array)[] = [];

  send(data: string | Uint8Array): void {
    this.sent.push(data);
  }

  close(code = 1000): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    queueMicrotask(() => this.onclose?.({ code, reason: '' }));
  }

  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }

  /** One binary frame of `records`: [kind, eva (string or raw bytes), payload]. */
  deliver(...records: [RecordKind, string | Uint8Array, string | Uint8Array][]): void {
    const writer = new FrameWriter();
    for (const [kind, eva, payload] of records) writer.writeRecord(kind, eva, payload);
    const frame = writer.finish();
    this.onmessage?.({ data: frame.buffer.slice(frame.byteOffset, frame.byteOffset + frame.byteLength) });
  }

  control(message: object): void {
    this.deliver([RecordKind.CONTROL, '', JSON.stringify(message)]);
  }

  /** The control messages the client sent, in order (its hello is a text frame, the rest come in batches). */
  controls(): { t: string; id?: number; method?: string }[] {
    const out: { t: string }[] = [];
    for (const data of this.sent) {
      if (typeof data === 'string') out.push(JSON.parse(data));
      else
        readRecords(data, (kind, frame, _es, _ee, start, end) => {
          if (kind === RecordKind.CONTROL) out.push(JSON.parse(Buffer.from(frame.subarray(start, end)).toString('utf8')));
        });
    }
    return out;
  }
}

class ScriptedFactory extends WebSocketFactory {
  readonly sockets: ScriptedSocket[] = [];

  constructor() {
    super('ws://scripted.invalid', { heartbeatIntervalMs: 0, handshakeTimeoutMs: 60_000 });
  }

  override create(): VnfSocket {
    const socket = new ScriptedSocket();
    this.sockets.push(socket);
    return socket;
  }
}

describe('Channel with a scripted broker', () => {
  let scripted: ScriptedFactory;
  let scriptedHub: WebSocketHub;
  beforeEach(() => {
    scripted = new ScriptedFactory();
    scriptedHub = new WebSocketHub(scripted);
  });
  afterEach(() => scriptedHub.close());

  function welcomed(limits?: object): { endpoint: ReturnType<WebSocketHub['openEndpoint']>; socket: ScriptedSocket; errors: VnfError[] } {
    const endpoint = scriptedHub.openEndpoint('me');
    const errors: VnfError[] = [];
    endpoint.on('error', (e) => errors.push(e));
    const socket = scripted.sockets[0]!;
    socket.open();
    socket.control({ t: 'welcome', session: 's', maxFrame: 1024 * 1024, ...(limits && { limits }) });
    return { endpoint, socket, errors };
  }

  it('never attributes a record to the previous sender when its source eva cannot be decoded', () => {
    const { endpoint, socket, errors } = welcomed();
    socket.control({ t: 'accept', from: 'alice' });
    const messages: MessageEvent[] = [];
    endpoint.on('message', (e) => messages.push(e));
    socket.deliver([RecordKind.TEXT, 'alice', 'hello']);
    const notUtf8 = Uint8Array.of(0x61, 0x6c, 0x69, 0x63, 0xff);
    socket.deliver([RecordKind.TEXT, notUtf8, 'spoofed?']);
    socket.deliver([RecordKind.TEXT, notUtf8, 'spoofed again?']);
    expect(messages).toEqual([{ sourceEva: 'alice', message: 'hello' }]);
    expect(errors.map((e) => e.code)).toEqual(['PROTOCOL', 'PROTOCOL']);
  });

  it('obeys the callsInFlight of the welcome: one call out at a time, the next once it is answered', async () => {
    const { endpoint, socket, errors } = welcomed({ callsInFlight: 1, controlPerSecond: 50 });
    expect(errors).toEqual([]);
    const rpc = endpoint.getWebSocketRpc();
    const first = rpc.call('first', 1);
    const second = rpc.call('second', 2);
    // Left unsettled if an expectation fails; closing the hub then rejects them DESTROYED.
    for (const call of [first, second]) call.catch(() => undefined);
    await until(() => socket.controls().some((m) => m.t === 'call'), 'the first call to leave');
    const calls = (): string[] => socket.controls().filter((m) => m.t === 'call').map((m) => m.method!);
    expect(calls()).toEqual(['first']);
    const firstId = socket.controls().find((m) => m.method === 'first')!.id;
    socket.control({ t: 'result', id: firstId, result: 'one' });
    await expect(first).resolves.toBe('one');
    await until(() => calls().length === 2, 'the second call to leave');
    const secondId = socket.controls().find((m) => m.method === 'second')!.id;
    socket.control({ t: 'failure', id: secondId, code: 'FORBIDDEN', message: 'no' });
    await expect(second).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });

  it('reports a welcome whose limits are not positive integers as PROTOCOL and does not count the socket as up', () => {
    const { endpoint, errors } = welcomed({ callsInFlight: 0 });
    expect(errors.map((e) => e.code)).toEqual(['PROTOCOL']);
    expect(errors[0]!.message).toContain('callsInFlight');
    expect(endpoint.isOnline).toBe(false);
  });
});
