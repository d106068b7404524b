import { uniqueEva, until, waitFor } from '../src';

describe('waiting helpers', () => {
  it('until resolves once the condition holds and fails with the description after the timeout', async () => {
    let ready = false;
    setTimeout(() => (ready = true), 20);
    await expect(until('ready', 2000, () => ready)).resolves.toBeUndefined();
    await expect(until('never', 50, () => false, () => 'still false')).rejects.toThrow(
      'Timed out after 50 ms waiting for never: still false',
    );
  });

  it('waitFor resolves with the signalled value, or fails naming what it waited for', async () => {
    await expect(waitFor<number>('a number', 1000, (done) => setTimeout(() => done(42), 5))).resolves.toBe(42);
    await expect(waitFor('an event that never comes', 30, () => undefined)).rejects.toThrow('an event that never comes');
  });

  it('uniqueEva never repeats within a run', () => {
    const evas = new Set(Array.from({ length: 1000 }, () => uniqueEva('x')));
    expect(evas.size).toBe(1000);
  });
});
