import { ReplayWindow } from '../src/ReplayWindow';

function accept(window: ReplayWindow, counter: number): boolean {
  if (!window.fresh(counter)) return false;
  window.accept(counter);
  return true;
}

describe('ReplayWindow', () => {
  it('accepts each counter once, in any order within the window', () => {
    const w = new ReplayWindow(64);
    expect([0, 2, 1, 5, 3].map((c) => accept(w, c))).toEqual([true, true, true, true, true]);
    expect([0, 1, 2, 3, 5].map((c) => accept(w, c))).toEqual([false, false, false, false, false]);
    expect(accept(w, 4)).toBe(true);
  });

  it('refuses a counter older than the window, and forgets slots it slides over', () => {
    const w = new ReplayWindow(64);
    accept(w, 10);
    accept(w, 100);
    expect(accept(w, 36)).toBe(false); // 100 - 36 = 64: out of the window
    expect(accept(w, 37)).toBe(true);
    expect(accept(w, 10 + 64 * 2)).toBe(true); // the slot of 10, reused far ahead
    expect(accept(w, 10)).toBe(false);
  });

  it('fresh() does not record: only accept() does (a record that fails its tag leaves no trace)', () => {
    const w = new ReplayWindow(64);
    expect(w.fresh(7)).toBe(true);
    expect(w.fresh(7)).toBe(true);
    w.accept(7);
    expect(w.fresh(7)).toBe(false);
  });
});
