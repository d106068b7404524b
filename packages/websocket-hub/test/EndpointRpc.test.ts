import type { RegistryChange, Rpc } from '@vnf/core';
import { WebSocketRegistryClient } from '@vnf/registry';
import { WebSocketHub, WebSocketRpc } from '../src';
import { startBroker, until, type RunningBroker } from './brokerFixture';

let running: RunningBroker;
const closers: (() => Promise<unknown>)[] = [];
beforeEach(async () => {
  running = await startBroker();
});
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  await running.close();
});

function endpointOf(eva: string) {
  const hub = new WebSocketHub(running.factory());
  closers.push(() => hub.close());
  return hub.openEndpoint(eva);
}

function describeChanges(changes: RegistryChange[]): string[] {
  return changes.map((c) => `${c.type}:${c.entry.name}`);
}

describe('endpoint.getWebSocketRpc()', () => {
  it('returns a new Rpc each call: closing one rejects only its own pending calls', async () => {
    const endpoint = endpointOf('shared');
    const first: Rpc = endpoint.getWebSocketRpc();
    const second: Rpc = endpoint.getWebSocketRpc();
    const heardBySecond: string[] = [];
    second.onNotification((method) => heardBySecond.push(method));
    await second.call('registry.watch', { collection: 'c', watchId: 'second-watch' });
    const firstPending = first.call('registry.list', { collection: 'c' });
    const secondPending = second.call('registry.list', { collection: 'c' });
    await first.close();
    await expect(firstPending).rejects.toMatchObject({ code: 'DESTROYED' });
    await expect(first.call('registry.list', { collection: 'c' })).rejects.toMatchObject({ code: 'DESTROYED' });
    await expect(secondPending).resolves.toEqual({ entries: [] });
    // The second Rpc still calls and still hears its notifications.
    await expect(second.call('registry.create', { collection: 'c', name: 'n', value: 1 })).resolves.toEqual({ status: 'OK' });
    await until(() => heardBySecond.length === 1, 'the notification of the second Rpc');
    expect(endpoint.isOnline).toBe(true);
  });

  it('two registry clients on one endpoint: each watch hears its own changes once, and closing one leaves the other working', async () => {
    const endpoint = endpointOf('shared');
    const one = new WebSocketRegistryClient(endpoint.getWebSocketRpc());
    const two = new WebSocketRegistryClient(endpoint.getWebSocketRpc());
    const writer = new WebSocketRegistryClient(new WebSocketRpc('writer', running.factory()));
    closers.push(() => one.close(), () => two.close(), () => writer.close());
    const seenByOne: RegistryChange[] = [];
    const seenByTwo: RegistryChange[] = [];
    await one.watch('rooms', (change) => seenByOne.push(change));
    await two.watch('rooms', (change) => seenByTwo.push(change));
    await writer.createEntry({ collection: 'rooms', name: 'a' }, 1);
    await writer.createEntry({ collection: 'rooms', name: 'b' }, 2);
    await until(() => seenByOne.length >= 2 && seenByTwo.length >= 2, 'both watches told twice');

    await one.close();
    expect(await two.createEntry({ collection: 'rooms', name: 'mine' }, 'two')).toBe('OK');
    await writer.deleteEntry({ collection: 'rooms', name: 'a' });
    await until(() => seenByTwo.length >= 4, 'the remaining watch told');

    expect(describeChanges(seenByOne)).toEqual(['added:a', 'added:b']);
    expect(describeChanges(seenByTwo)).toEqual(['added:a', 'added:b', 'added:mine', 'removed:a']);
    expect((await writer.listEntries('rooms')).map((e) => [e.name, e.owner])).toEqual([
      ['b', 'writer'],
      ['mine', 'shared'],
    ]);
  });
});
