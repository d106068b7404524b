import { describe, expect, it } from '@jest/globals';
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
});
