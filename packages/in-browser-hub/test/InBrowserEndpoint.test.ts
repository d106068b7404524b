import { until } from '@vnf/conformance';
import type { Endpoint, MessageEvent } from '@vnf/core';
import { InBrowserHub, type InBrowserHubOptions } from '../src';

const hubs: InBrowserHub[] = [];
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((hub) => hub.close()));
});

async function star(options: InBrowserHubOptions = {}): Promise<{ a: Endpoint; got: Record<string, MessageEvent[]> }> {
  const hub = new InBrowserHub(options);
  hubs.push(hub);
  const a = hub.openEndpoint('a');
  const got: Record<string, MessageEvent[]> = {};
  for (const eva of ['b', 'c']) {
    const peer = hub.openEndpoint(eva);
    got[eva] = [];
    peer.on('message', (event) => got[eva]!.push(event));
    await a.openConnection(eva);
  }
  return { a, got };
}

describe('InBrowserEndpoint multicast', () => {
  it('gives each target its own copy of binary, and counts the bytes in flight toward each', async () => {
    const { a, got } = await star();
    const bytes = new Uint8Array([1, 2, 3, 4]);
    a.multicast(['b', 'c'], bytes);
    a.multicast(['b', 'c'], 'é');
    bytes.fill(0);
    expect(a.bufferedAmount('b')).toBe(4 + 2);
    expect(a.bufferedAmount('c')).toBe(4 + 2);
    await until('both at b and c', 5000, () => got.b!.length === 2 && got.c!.length === 2);
    const [atB, atC] = [got.b![0]!.message as Uint8Array, got.c![0]!.message as Uint8Array];
    expect([...atB]).toEqual([1, 2, 3, 4]);
    expect(atB).not.toBe(atC);
    atB.fill(9);
    expect([...atC]).toEqual([1, 2, 3, 4]);
    expect(got.b![1]).toEqual({ sourceEva: 'a', message: 'é' });
    expect(a.bufferedAmount('b')).toBe(0);
  });

  it('a target list multicast to again, changed in place or not, reaches exactly the targets it names then', async () => {
    const { a, got } = await star();
    const list = ['b', 'c'];
    a.multicast(list, 'one');
    a.multicast(list, 'two'); // the same list again: filtered once, reached as before
    list[1] = 'b'; // changed in place: b named twice, c no longer
    a.multicast(list, 'three');
    list.splice(0, 2, 'c');
    a.multicast(list, 'four');
    a.closeConnection('c');
    a.multicast(list, 'five'); // a connection changed: the same contents filtered anew
    a.multicast(['b', 'c'], 'six');
    await until('six at b', 5000, () => got.b!.some((e) => e.message === 'six'));
    expect(got.b!.map((e) => e.message)).toEqual(['one', 'two', 'three', 'six']);
    expect(got.c!.map((e) => e.message)).toEqual(['one', 'two', 'four']);
  });

  it('skips a target with more than highWaterMark in flight; the others get it, and the skipped one gets the next', async () => {
    const { a, got } = await star({ highWaterMark: 1000, lowWaterMark: 10 });
    a.send('b', 'x'.repeat(1001));
    a.multicast(['b', 'c'], 'missed by b');
    await until('c', 5000, () => got.c!.length === 1 && got.b!.length === 1);
    a.multicast(['b', 'c'], 'next');
    await until('next', 5000, () => got.b!.length === 2 && got.c!.length === 2);
    expect(got.b!.map((e) => (e.message as string).slice(0, 20))).toEqual(['x'.repeat(20), 'next']);
    expect(got.c!.map((e) => e.message)).toEqual(['missed by b', 'next']);
  });
});
