import { spawn, type ChildProcess } from 'node:child_process';
import { WebSocketFactory, WebSocketHub, WebSocketRpc } from '@vnf/websocket-hub';
import { WebSocketRegistryClient } from '@vnf/registry';
import { startBroker, type Running } from './fixture';

// The child speaks the wire protocol with plain `ws` (text control frames), so it needs no build step.
const CHILD = `
const WebSocket = require('ws');
const ws = new WebSocket(process.argv[1]);
let step = 0;
ws.on('open', () => ws.send(JSON.stringify({ t: 'hello', v: 1, role: 'endpoint', eva: 'doomed' })));
ws.on('message', (data) => {
  const text = data.toString('latin1');
  if (step === 0 && text.includes('"welcome"')) {
    step = 1;
    ws.send(JSON.stringify({ t: 'call', id: 1, method: 'registry.create', params: { collection: 'chats', name: 'doomed-chat', value: 'open' } }));
    ws.send(JSON.stringify({ t: 'open', to: 'survivor' }));
  }
  if (step === 1 && text.includes('"opened"')) { step = 2; process.stdout.write('ready\\n'); }
});
`;

let running: Running;
let child: ChildProcess | null = null;
afterEach(async () => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await running.close();
});

it('a SIGKILLed client process: its peers get onConnectionLost and its registry entries vanish', async () => {
  running = await startBroker();
  const factory = new WebSocketFactory(running.url);
  const hub = new WebSocketHub(factory);
  const registry = new WebSocketRegistryClient(new WebSocketRpc('observer', factory));
  try {
    const survivor = hub.openEndpoint('survivor');
    await survivor.firstAttempt;
    const accepted = new Promise((resolve) => survivor.on('connection', resolve));
    const lost = new Promise((resolve) => survivor.onConnectionLost(resolve));

    const proc = spawn(process.execPath, ['-e', CHILD, running.url], { cwd: __dirname, stdio: ['ignore', 'pipe', 'inherit'] });
    child = proc;
    await new Promise<void>((resolve, reject) => {
      proc.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve());
      proc.once('exit', (code) => reject(new Error(`child exited early (${code})`)));
    });
    expect(await accepted).toBe('doomed');
    await expect(registry.getEntry({ collection: 'chats', name: 'doomed-chat' })).resolves.toBe('open');
    const removed = new Promise((resolve) => {
      void registry.watch('chats', (change) => change.type === 'removed' && resolve(change.entry.name));
    });

    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGKILL');
    await exited;

    expect(await lost).toBe('doomed');
    expect(await removed).toBe('doomed-chat');
    await expect(registry.getEntry({ collection: 'chats', name: 'doomed-chat' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  } finally {
    await registry.close();
    await hub.close();
  }
});
