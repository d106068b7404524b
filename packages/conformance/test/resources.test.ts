import { countActiveResources, describeResourceDiff, resourcesSettled } from '../src/resources';
import { until } from '../src/waiting';

describe('the leak detector behind "leaves no timer or socket behind"', () => {
  it('sees a timer that outlives the snapshot, and settles once it is cleared', () => {
    const before = countActiveResources();
    expect(resourcesSettled(before)).toBe(true);
    const leaked = setInterval(() => undefined, 60_000);
    try {
      expect(resourcesSettled(before)).toBe(false);
      expect(describeResourceDiff(before)).toMatch(/Timeout: \d+ before, \d+ now/);
    } finally {
      clearInterval(leaked);
    }
    expect(resourcesSettled(before)).toBe(true);
  });

  it('sees a listening server until it is closed', async () => {
    const { createServer } = await import('node:net');
    const before = countActiveResources();
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    expect(resourcesSettled(before)).toBe(false);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    // Node releases the handle just after the close callback, as the suite's own check allows for.
    await until('the server handle to be released', 2000, () => resourcesSettled(before), () => describeResourceDiff(before));
  });
});

describe('until, used to wait for resources to be released', () => {
  it('does not count its own poll timer as a live resource', async () => {
    const before = countActiveResources();
    let polls = 0;
    const held = setTimeout(() => undefined, 60_000);
    // Released after a few polls, so the check that passes runs from a later poll, not the first call.
    setTimeout(() => clearTimeout(held), 50);
    await until('the held timer to be cleared', 2000, () => {
      polls++;
      return resourcesSettled(before);
    }, () => describeResourceDiff(before));
    expect(polls).toBeGreaterThan(1);
  });
});
