import { describe, expect, it } from '@jest/globals';
import { seededRandom } from '@vnf/conformance';
import { ReceiveBuffer } from '../src/ReceiveBuffer';

describe('ReceiveBuffer', () => {
  it('holds early messages until the gap closes, and suppresses duplicates', () => {
    const recv = new ReceiveBuffer(16);
    expect(recv.accept(2, 'b')).toBe('early');
    expect(recv.accept(4, 'd')).toBe('early');
    expect(recv.accept(2, 'b')).toBe('duplicate');
    expect(recv.ranges()).toEqual([[2, 2], [4, 4]]);
    expect(recv.accept(1, 'a')).toBe('inOrder');
    expect(recv.takeReady()).toBe('b');
    expect(recv.takeReady()).toBeUndefined();
    expect(recv.cumulative).toBe(2);
    expect(recv.accept(1, 'a')).toBe('duplicate');
    expect(recv.accept(3, 'c')).toBe('inOrder');
    expect(recv.takeReady()).toBe('d');
    expect(recv.hasGap).toBe(false);
  });

  it('refuses messages beyond the window', () => {
    const recv = new ReceiveBuffer(4);
    expect(recv.accept(5, 'x')).toBe('outsideWindow');
    expect(recv.accept(4, 'x')).toBe('early');
  });

  it('merges consecutive early messages into ranges', () => {
    const recv = new ReceiveBuffer(64);
    for (const seq of [3, 4, 5, 9, 10, 20]) recv.accept(seq, 'x');
    expect(recv.ranges()).toEqual([[3, 5], [9, 10], [20, 20]]);
  });

  it('reports the held ranges lowest first, at most 96 of them, as arrivals and deliveries change them', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const rand = seededRandom(seed);
      const recv = new ReceiveBuffer(512);
      const held = new Set<number>();
      let expected = 1;
      for (let op = 0; op < 200; op++) {
        const seq = expected + Math.floor(rand() * (rand() < 0.1 ? 520 : 40));
        const arrival = recv.accept(seq, `m${seq}`);
        if (arrival === 'inOrder') {
          expected++;
          while (recv.takeReady() !== undefined) held.delete(expected++);
        } else if (arrival === 'early') held.add(seq);
        // What a sort of the held numbers gives.
        const want: Array<[number, number]> = [];
        for (const s of [...held].sort((x, y) => x - y)) {
          const last = want[want.length - 1];
          if (last && last[1] === s - 1) last[1] = s;
          else want.push([s, s]);
        }
        const got = JSON.stringify(recv.ranges());
        if (got !== JSON.stringify(want.slice(0, 96))) expect(`seed ${seed}, op ${op}: ${got}`).toBe(JSON.stringify(want.slice(0, 96)));
      }
    }
    const recv = new ReceiveBuffer(512);
    for (let seq = 2; seq <= 200; seq += 2) recv.accept(seq, 'x');
    expect(recv.ranges()).toEqual(Array.from({ length: 96 }, (_, i) => [2 * i + 2, 2 * i + 2]));
  });
});
