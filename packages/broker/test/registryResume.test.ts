// Issue 14's "watches that never miss", through a real broker: a watcher whose socket is killed while changes happen
// resumes from the change log (or, past its history, gets one resync), and a filter runs on the broker.
import { seededRandom } from '@vnf/conformance';
import type { RegistryEntry, RegistryWatchEvent, RegistryWriteResult } from '@vnf/core';
import { WebSocketRegistryClient } from '@vnf/registry';
import { WebSocketFactory, WebSocketRpc, type VnfSocket } from '@vnf/websocket-hub';
import { WebSocket } from 'ws';
import { callAll, rawRegister, HONEST, Scope, until } from './adversarial/support';
import { startBroker } from './fixture';

let scope = new Scope();
afterEach(async () => {
  await scope.close();
  scope = new Scope();
});

/** A factory whose next sockets fail at once while `closed` (a port nothing listens on): the client stays down. */
class GatedFactory extends WebSocketFactory {
  closed = false;
  current: WebSocket | null = null;

  override create(): VnfSocket {
    const ws = new WebSocket(this.closed ? 'ws://127.0.0.1:1/' : this.url);
    ws.binaryType = 'arraybuffer';
    if (!this.closed) this.current = ws;
    return ws as unknown as VnfSocket;
  }
}

/** What a snapshot watcher believes the collection holds, from the events it was told. */
class View {
  readonly entries = new Map<string, unknown>();
  readonly revisions: number[] = [];
  resyncs = 0;
  snapshots = 0;
  last = 0;

  readonly watcher = (event: RegistryWatchEvent): void => {
    if (event.type === 'snapshot') {
      this.snapshots++;
      if (event.resync) this.resyncs++;
      this.entries.clear();
      for (const entry of event.entries) this.entries.set(entry.name, entry.value);
      this.last = event.revision;
      return;
    }
    this.revisions.push(event.revision!);
    this.last = event.revision!;
    if (event.type === 'removed') this.entries.delete(event.entry.name);
    else this.entries.set(event.entry.name, event.entry.value);
  };

  matches(entries: RegistryEntry[]): boolean {
    return entries.length === this.entries.size && entries.every((e) => JSON.stringify(this.entries.get(e.name)) === JSON.stringify(e.value));
  }
}

describe.each([
  ['the default history', undefined, 0],
  ['a history of 100 changes', 100, 1],
])('a watcher whose socket is killed while 1,000 changes happen, with %s', (_name, maxLogEntries, resyncs) => {
  it(`ends with exactly the store's final state, ${resyncs === 0 ? 'having seen every change once, in order, with no resync' : 'after exactly one resync'}`, async () => {
    const seed = Number(process.env.VNF_TEST_SEED ?? Date.now() % 1_000_000);
    const next = seededRandom(seed);
    try {
      const running = scope.add(await startBroker({ evaGraceMs: 60_000, ...(maxLogEntries !== undefined && { registry: { maxLogEntries } }) }));
      const gated = new GatedFactory(running.url, { reconnect: { initialDelayMs: 20, maxDelayMs: 100 } });
      const watcher = scope.add(new WebSocketRegistryClient(new WebSocketRpc('watcher', gated)));
      const writer = scope.add(new WebSocketRegistryClient(new WebSocketRpc('writer', new WebSocketFactory(running.url))));
      for (let i = 0; i < 20; i++) await writer.write({ collection: 'c', name: `n${i}` }, { i, v: 0 });
      const view = new View();
      await watcher.watch('c', view.watcher, { snapshot: true });
      await until('the snapshot', () => view.snapshots === 1);
      const down = new Promise<void>((resolve) => watcher.once('down', () => resolve()));
      gated.closed = true;
      gated.current!.terminate();
      await down;

      const results: RegistryWriteResult[] = [];
      for (let n = 0; n < 1000; n++) {
        const key = { collection: 'c', name: `n${Math.floor(next() * 40)}` };
        if (next() < 0.25) {
          const removed = await writer.remove(key, { when: { fields: {} } });
          if (removed.status === 'OK') results.push(removed);
          else results.push(await writer.write(key, { n }));
        } else results.push(await writer.write(key, { n }));
      }
      const resynced = new Promise<void>((resolve) => watcher.once('resynced', () => resolve()));
      gated.closed = false;
      await resynced;
      const final = await writer.listEntries('c');
      const finalRevision = results[results.length - 1].revision!;
      await until('the watcher to reach the last revision', () => view.last >= finalRevision, 20_000, () => `at ${view.last} of ${finalRevision}`);
      expect(view.matches(final)).toBe(true);
      expect(view.resyncs).toBe(resyncs);
      if (resyncs === 0) {
        // Every change once, in order: the revisions told after the snapshot are exactly those of the writes.
        expect(view.revisions).toEqual(results.map((r) => r.revision));
      } else {
        const told = view.revisions;
        expect([...told].sort((a, b) => a - b)).toEqual(told);
        expect(new Set(told).size).toBe(told.length);
      }
    } catch (err) {
      process.stderr.write(`registryResume seed ${seed} (rerun with VNF_TEST_SEED=${seed})\n`);
      throw err;
    }
  }, 60_000);
});

it('a filter matching 1 % of 10,000 changes sends at most 100 change notifications, plus the snapshot, to the watcher', async () => {
  // The writer's 10,000 calls are the test's load, not an attack: its control budget is lifted.
  const running = scope.add(await startBroker({ maxControlPerSecond: 0, maxControlPerSecondPerClient: 0, registry: { maxEntriesPerOwner: 20_000, maxBytesPerOwner: 4 * 1024 * 1024 } }));
  const [tap] = await rawRegister(running.url, 'tap', HONEST, { role: 'rpc' });
  scope.add(tap);
  const writer = scope.add(new WebSocketRegistryClient(new WebSocketRpc('writer', new WebSocketFactory(running.url))));
  await writer.write({ collection: 'jobs', name: 'before' }, { state: 'hot' });
  const [watched] = await callAll(tap, [{ method: 'registry.watch', params: { collection: 'jobs', watchId: 'hot', snapshot: true, filter: { state: 'hot' } } }], 1);
  expect(watched).toMatchObject({ t: 'result', result: { status: 'OK' } });
  let last: RegistryWriteResult | null = null;
  const writes: Promise<RegistryWriteResult>[] = [];
  for (let n = 0; n < 10_000; n++) {
    writes.push(writer.write({ collection: 'jobs', name: `j${n}` }, { state: n % 100 === 0 ? 'hot' : 'cold', n }));
    if (writes.length === 64) last = (await Promise.all(writes.splice(0))).pop()!;
  }
  if (writes.length > 0) last = (await Promise.all(writes)).pop()!;
  // The last change is cold: a hot marker after it shows every notification before it has arrived.
  await writer.write({ collection: 'jobs', name: 'marker' }, { state: 'hot' });
  const notes = () => tap.controls.filter((m): m is { t: 'notify'; method: string; params: unknown } => m.t === 'notify');
  await until('the marker', () => notes().some((m) => (m.params as { entry?: { name?: string } }).entry?.name === 'marker'), 30_000);
  const changes = notes().filter((m) => m.method === 'registry.change');
  const snapshots = notes().filter((m) => m.method === 'registry.snapshot');
  expect(snapshots).toHaveLength(1);
  expect((snapshots[0].params as { entries: RegistryEntry[] }).entries.map((e) => e.name)).toEqual(['before']);
  // 100 hot jobs and the marker: nothing cold crossed the wire.
  expect(changes.length).toBeLessThanOrEqual(100 + 1);
  expect(changes.map((m) => (m.params as { entry: { value: { state: string } } }).entry.value.state).every((s) => s === 'hot')).toBe(true);
  expect(changes).toHaveLength(101);
  expect(last!.status).toBe('OK');
}, 60_000);
