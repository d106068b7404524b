import { VnfError } from '@vnf/core';
import { InBrowserHub } from '@vnf/in-browser-hub';
import { MarshallerHub } from '@vnf/marshaller-hub';
import { MultiplexHub } from '@vnf/multiplex-hub';
import { InBrowserRegistry } from '@vnf/registry';
import { PeerServices } from '@vnf/services';

const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** Resolves once `condition` holds, looking after each turn; rejects after 10 s with what it waited for. */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

function pair(structured = false) {
  const hub = new MultiplexHub(structured ? new MarshallerHub(new InBrowserHub()) : new InBrowserHub());
  const alice = new PeerServices(hub.openEndpoint('alice'));
  const bob = new PeerServices(hub.openEndpoint('bob'));
  closers.push(() => hub.close(), () => alice.close(), () => bob.close());
  return { hub, alice, bob };
}

describe('PeerServices', () => {
  it('calls a service of a peer, with progress before the result, and the caller stamped by the transport', async () => {
    const { alice, bob } = pair();
    bob.provide('sum', (params, ctx) => {
      const { a, b } = params as { a: number; b: number };
      ctx.progress('half');
      ctx.progress('done');
      return { sum: a + b, caller: ctx.caller };
    });
    const progress: unknown[] = [];
    expect(await alice.call('bob', 'sum', { a: 1, b: 2 }, { onProgress: (v) => progress.push(v) })).toEqual({ sum: 3, caller: 'alice' });
    expect(progress).toEqual(['half', 'done']);
  });

  it('carries binary through a MarshallerHub, and refuses it over a wire hub with INVALID_PAYLOAD', async () => {
    const structured = pair(true);
    structured.bob.provide('echo', (params) => params);
    expect(await structured.alice.call('bob', 'echo', { bytes: new Uint8Array([1, 2, 3]) })).toEqual({ bytes: new Uint8Array([1, 2, 3]) });
    const wire = pair(false);
    wire.bob.provide('echo', (params) => params);
    await expect(wire.alice.call('bob', 'echo', { bytes: new Uint8Array([1]) })).rejects.toMatchObject({ code: 'INVALID_PAYLOAD' });
  });

  it('maps errors to stable codes: a VnfError as thrown, anything else INTERNAL, NOT_FOUND, FORBIDDEN', async () => {
    const { alice, bob } = pair();
    bob.provide('fails', () => {
      throw new VnfError('TOO_LARGE', 'too big, says the handler');
    });
    bob.provide('crashes', () => {
      throw new Error('secret detail');
    });
    bob.provide('private', () => 'no', { allow: (caller) => caller === 'carol' });
    await expect(alice.call('bob', 'fails')).rejects.toMatchObject({ code: 'TOO_LARGE', message: 'too big, says the handler' });
    const crash = await alice.call('bob', 'crashes').catch((err: unknown) => err as VnfError);
    expect(crash).toMatchObject({ code: 'INTERNAL' });
    expect((crash as VnfError).message).not.toContain('secret detail');
    await expect(alice.call('bob', 'nothing')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(alice.call('nobody', 'sum')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(alice.call('bob', 'private')).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });

  it('times out with TIMEOUT and aborts the handler; a cancel rejects CANCELLED and aborts it too', async () => {
    const { alice, bob } = pair();
    const aborted: string[] = [];
    bob.provide('slow', (_params, ctx) => new Promise((resolve) => ctx.signal.addEventListener('abort', () => {
      aborted.push(String((ctx.signal.reason as VnfError).code));
      resolve('late');
    })));
    await expect(alice.call('bob', 'slow', null, { timeoutMs: 50 })).rejects.toMatchObject({ code: 'TIMEOUT' });
    const controller = new AbortController();
    const cancelled = alice.call('bob', 'slow', null, { signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await expect(cancelled).rejects.toMatchObject({ code: 'CANCELLED' });
    await new Promise<void>((resolve) => {
      const check = () => (aborted.length === 2 ? resolve() : setTimeout(check, 5));
      check();
    });
    expect(aborted).toEqual(['CANCELLED', 'CANCELLED']);
  });

  it('never runs more than concurrency handlers at once; the rest wait in order, then BUFFER_FULL', async () => {
    const { alice, bob } = pair();
    let running = 0;
    let most = 0;
    const order: number[] = [];
    bob.provide('work', async (n) => {
      running++;
      most = Math.max(most, running);
      order.push(n as number);
      await new Promise((resolve) => setTimeout(resolve, 2));
      running--;
      return n;
    }, { concurrency: 4, maxQueued: 100 });
    const results = await Promise.all(Array.from({ length: 100 }, (_, n) => alice.call('bob', 'work', n)));
    expect(results).toEqual(Array.from({ length: 100 }, (_, n) => n));
    expect(most).toBe(4);
    expect(order).toEqual(Array.from({ length: 100 }, (_, n) => n));
    const over = await Promise.allSettled(Array.from({ length: 110 }, (_, n) => alice.call('bob', 'work', n)));
    expect(over.filter((r) => r.status === 'rejected').map((r) => ((r as PromiseRejectedResult).reason as VnfError).code)).toEqual(['BUFFER_FULL', 'BUFFER_FULL', 'BUFFER_FULL', 'BUFFER_FULL', 'BUFFER_FULL', 'BUFFER_FULL']);
  });

  it('a provider gone mid-call rejects UNAVAILABLE; callAny retries an idempotent call on another live provider', async () => {
    const hub = new MultiplexHub(new InBrowserHub());
    const registry = new InBrowserRegistry();
    const make = (eva: string) => {
      const services = new PeerServices(hub.openEndpoint(eva), { registry: registry.connect(eva) });
      closers.push(() => services.close());
      return services;
    };
    closers.push(() => hub.close());
    const caller = make('caller');
    const one = make('one');
    const two = make('two');
    let started!: () => void;
    const first = new Promise<void>((resolve) => (started = resolve));
    const slow = one.provide('job', () => {
      started();
      return new Promise(() => undefined);
    }, { advertise: true });
    const fast = two.provide('job', () => 'done by two', { advertise: true });
    await Promise.all([slow.advertised, fast.advertised]);
    const call = caller.callAny('job', null, { idempotent: true, strategy: 'round-robin' });
    await first;
    // "one" stops mid-call: the caller hears UNAVAILABLE from it, and the idempotent call goes to "two".
    await one.close();
    expect(await call).toBe('done by two');
    const lost = caller.call('two', 'job');
    expect(await lost).toBe('done by two');
  });

  it("runs the README's example", async () => {
    const hub = new MultiplexHub(new InBrowserHub());
    const printer = new PeerServices(hub.openEndpoint('printer'));
    const laptop = new PeerServices(hub.openEndpoint('laptop'));
    printer.provide('print', async (params, ctx) => {
      const { pages } = params as { pages: number };
      for (let page = 1; page <= pages; page++) {
        if (ctx.signal.aborted) return { printed: page - 1 };
        ctx.progress({ page, of: pages });
      }
      return { printed: pages, for: ctx.caller };
    }, { concurrency: 2, maxQueued: 10 });
    const progress: unknown[] = [];
    const result = await laptop.call('printer', 'print', { pages: 3 }, { timeoutMs: 5000, onProgress: (p) => progress.push(p) });
    expect(progress).toEqual([{ page: 1, of: 3 }, { page: 2, of: 3 }, { page: 3, of: 3 }]);
    expect(result).toEqual({ printed: 3, for: 'laptop' });
    await Promise.all([printer.close(), laptop.close()]);
    await hub.close();
  });

  it('starts queued calls whose handlers return at once in one loop, in order, however deep the queue', async () => {
    const hub = new MultiplexHub(new InBrowserHub());
    const alice = new PeerServices(hub.openEndpoint('alice'), { maxPendingCalls: 5_000 });
    const bob = new PeerServices(hub.openEndpoint('bob'));
    closers.push(() => hub.close(), () => alice.close(), () => bob.close());
    let running = 0;
    let most = 0;
    const order: number[] = [];
    let releaseFirst!: () => void;
    const first = new Promise<void>((resolve) => (releaseFirst = resolve));
    // Call 0 holds the only slot until all the others wait behind it; then each of those frees the slot inside the
    // loop that starts the next (a synchronous handler): 3 000 in line must neither nest that loop nor leak a slot.
    const provision = bob.provide('now', (n) => {
      running++;
      most = Math.max(most, running);
      order.push(n as number);
      if (n === 0) return first.then(() => (running--, 0));
      running--;
      return n;
    }, { concurrency: 1, maxQueued: 3_000 });
    const calls = Array.from({ length: 3_000 }, (_, n) => alice.call('bob', 'now', n));
    await until(() => provision.queued === 2_999, 'all calls but the first queued');
    releaseFirst();
    const results = await Promise.all(calls);
    expect(results).toEqual(Array.from({ length: 3_000 }, (_, n) => n));
    expect(order).toEqual(results);
    expect(most).toBe(1);
    // Every slot came back: a second burst runs too.
    expect(await Promise.all([alice.call('bob', 'now', 1), alice.call('bob', 'now', 2)])).toEqual([1, 2]);
  });

  it('a handler whose thenable throws, or that throws at once, frees its slot; progress may be taken off the context', async () => {
    const { alice, bob } = pair();
    const hostile = {
      get then(): never {
        throw new Error('a then getter that throws');
      },
    };
    bob.provide('hostile', () => hostile, { concurrency: 1 });
    bob.provide('throws', () => {
      throw new VnfError('TOO_LARGE', 'at once');
    }, { concurrency: 1 });
    bob.provide('detached', (_params, { progress, caller, service }) => {
      progress(`${caller}:${service}`);
      return 'done';
    });
    for (let i = 0; i < 3; i++) {
      await expect(alice.call('bob', 'hostile')).rejects.toMatchObject({ code: 'INTERNAL' });
      await expect(alice.call('bob', 'throws')).rejects.toMatchObject({ code: 'TOO_LARGE', message: 'at once' });
    }
    const progress: unknown[] = [];
    expect(await alice.call('bob', 'detached', null, { onProgress: (v) => progress.push(v) })).toBe('done');
    expect(progress).toEqual(['alice:detached']);
  });

  it('throws at the call for bad arguments and options, and DESTROYED after close', async () => {
    const { alice } = pair();
    expect(() => new PeerServices({} as never)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => alice.provide('', () => 1)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => alice.provide('x', () => 1, { concurrency: 0 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => alice.provide('x', () => 1, { advertise: true })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    await expect(alice.call('bob', 'x', null, { timeoutMz: 1 } as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(alice.callAny('x')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await alice.close();
    await expect(alice.call('bob', 'x')).rejects.toMatchObject({ code: 'DESTROYED' });
    expect(() => alice.provide('y', () => 1)).toThrow(expect.objectContaining({ code: 'DESTROYED' }));
  });

  it('callAny passes over a provider it could not reach while its ad lives on, until the ad changes', async () => {
    const hub = new MultiplexHub(new InBrowserHub());
    const registry = new InBrowserRegistry();
    closers.push(() => hub.close());
    const callerEndpoint = hub.openEndpoint('caller');
    const caller = new PeerServices(callerEndpoint, { registry: registry.connect('caller') });
    const goneEndpoint = hub.openEndpoint('a-gone');
    const gone = new PeerServices(goneEndpoint, { registry: registry.connect('a-gone') });
    const live = new PeerServices(hub.openEndpoint('b-live'), { registry: registry.connect('b-live') });
    closers.push(() => caller.close(), () => live.close());
    await gone.provide('job', () => 'gone', { advertise: true }).advertised;
    await live.provide('job', () => 'live', { advertise: true }).advertised;
    // The endpoint goes, its registry client (and so its ad) stays: as a killed provider during the broker's grace.
    goneEndpoint.destroy();
    const opened: string[] = [];
    const open = callerEndpoint.openConnection.bind(callerEndpoint);
    callerEndpoint.openConnection = ((target: string, ...rest: unknown[]) => {
      opened.push(target);
      return (open as (...args: unknown[]) => unknown)(target, ...rest);
    }) as typeof callerEndpoint.openConnection;
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await caller.callAny('job'));
    expect(results).toEqual(['live', 'live', 'live', 'live']);
    // One refused attempt at the gone provider, then never again while its ad is unchanged.
    expect(opened.filter((eva) => eva === 'a-gone')).toEqual(['a-gone']);
  });
});
