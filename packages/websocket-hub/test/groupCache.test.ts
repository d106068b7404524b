import { GroupCache } from '../src/groupCache';

describe('GroupCache', () => {
  it('finds a list by its content, whatever array carries it', () => {
    const cache = new GroupCache({ max: 4, maxTargets: 10 }, 100);
    expect(cache.find(['a', 'b'])).toBeNull();
    expect(cache.add(['a', 'b'], 0)).toEqual({ id: 'g0', definition: '{"t":"group","id":"g0","targets":["a","b"]}' });
    expect(cache.find(['a', 'b'])).toBe('g0');
    expect(cache.add(['b', 'a'], 0)?.id).toBe('g1');
    expect(cache.find(['a', 'b'])).toBe('g0');
    expect(cache.find(['b', 'a'])).toBe('g1');
    // JSON keeps lists apart that a join would not.
    expect(cache.add(['a,b'], 0)?.id).toBe('g2');
    expect(cache.find(['a', 'b'])).toBe('g0');
  });

  it('keeps at most max lists: a new one takes the id of the least recently used, which is then unknown', () => {
    const cache = new GroupCache({ max: 2, maxTargets: 10 }, 100);
    cache.add(['a', 'b'], 0);
    cache.add(['c', 'd'], 0);
    expect(cache.find(['a', 'b'])).toBe('g0');
    expect(cache.add(['e', 'f'], 0)).toEqual({ id: 'g1', definition: '{"t":"group","id":"g1","targets":["e","f"]}' });
    expect(cache.find(['c', 'd'])).toBeNull();
    expect(cache.find(['a', 'b'])).toBe('g0');
    expect(cache.find(['e', 'f'])).toBe('g1');
  });

  it('forgets a group the broker refused, and spends at most definitionsPerSecond a second', () => {
    const cache = new GroupCache({ max: 8, maxTargets: 10 }, 2);
    cache.add(['a', 'b'], 0);
    cache.forget('g0');
    expect(cache.find(['a', 'b'])).toBeNull();
    expect(cache.add(['a', 'b'], 10)?.id).toBe('g1');
    expect(cache.add(['c', 'd'], 999)).toBeNull();
    expect(cache.add(['c', 'd'], 1000)?.id).toBe('g2');
  });
});
