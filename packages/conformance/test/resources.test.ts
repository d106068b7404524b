import { trackResources } from '../src/resources';

describe('the leak detector behind "leaves no timer or socket behind"', () => {
  it('sees a timer the test created until it is cleared', async () => {
    const resources = trackResources();
    const leaked = setInterval(() => undefined, 60_000);
    expect(resources.count('Timeout')).toBe(1);
    expect(resources.describe()).toMatch(/Timeout created at .*resources\.test\.ts/);
    await expect(resources.released(50)).rejects.toThrow(/still alive: Timeout created at/);
    clearInterval(leaked);
  });

  it('counts a fired or cleared timer as released at once, and an unref’d one as harmless', async () => {
    const resources = trackResources();
    await new Promise<void>((resolve) => setTimeout(resolve, 1));
    clearTimeout(setTimeout(() => undefined, 60_000));
    const background = setTimeout(() => undefined, 60_000);
    background.unref();
    expect(resources.alive()).toEqual([]);
    await resources.released(1000);
    clearTimeout(background);
  });

  it('never counts what existed before it started: another test’s timer does not fail this one', async () => {
    const earlier = setTimeout(() => undefined, 60_000);
    const resources = trackResources();
    expect(resources.alive()).toEqual([]);
    await resources.released(1000);
    clearTimeout(earlier);
  });

  it('sees a listening server and its connections until they are closed', async () => {
    const { createServer, connect } = await import('node:net');
    const resources = trackResources();
    const server = createServer((socket) => socket.end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    expect(resources.count('TCPSERVERWRAP')).toBe(1);
    const { port } = server.address() as { port: number };
    const client = connect(port, '127.0.0.1');
    await new Promise<void>((resolve) => client.on('close', () => resolve()).resume());
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await resources.released(2000);
  });

  it('does not count its own poll timers, and stops recording once released', async () => {
    const resources = trackResources();
    const held = setTimeout(() => undefined, 60_000);
    setTimeout(() => clearTimeout(held), 50);
    await resources.released(2000);
    const after = setTimeout(() => undefined, 60_000);
    expect(resources.alive()).toEqual([]);
    clearTimeout(after);
  });
});
