import { afterEach, describe, expect, it } from '@jest/globals';
import { VnfError } from '@vnf/core';
import type { MultiplexingEndpoint, RegistryClient } from '@vnf/core';
import { uniqueEva, until, waitFor } from './waiting';

/** What a handler under test gets (the ServiceContext of @vnf/services). */
export interface ServiceContextUnderTest {
  readonly caller: string;
  readonly service: string;
  readonly signal: AbortSignal;
  progress(value: unknown): void;
}

/** A provision under test (the Provision of @vnf/services). */
export interface ProvisionUnderTest {
  readonly running: number;
  readonly queued: number;
  readonly advertised: Promise<boolean>;
  stop(): Promise<void>;
}

/** The services of one endpoint, as the suite drives them: a PeerServices of @vnf/services, or anything that keeps its promises. */
export interface ServicesUnderTest {
  readonly eva: string;
  provide(
    name: string,
    handler: (params: unknown, context: ServiceContextUnderTest) => unknown,
    options?: { concurrency?: number; maxQueued?: number; timeoutMs?: number; advertise?: boolean | { info: unknown }; allow?: (caller: string) => boolean },
  ): ProvisionUnderTest;
  call(targetEva: string, name: string, params?: unknown, options?: { timeoutMs?: number; signal?: AbortSignal; onProgress?: (value: unknown) => void }): Promise<unknown>;
  callAny(
    name: string,
    params?: unknown,
    options?: { timeoutMs?: number; signal?: AbortSignal; onProgress?: (value: unknown) => void; idempotent?: boolean; strategy?: 'round-robin' | 'least-loaded' },
  ): Promise<unknown>;
  close(): Promise<void>;
}

/** One peer of a services network: its endpoint (on a MultiplexHub) and its registry client, owned by its eva. */
export interface ServicePeer {
  endpoint: MultiplexingEndpoint;
  registry: RegistryClient;
}

/** The peers of one test: each as a separate process would have them (its own hub where the stack allows it). */
export interface ServiceNetwork {
  /** Opens a peer with this eva. */
  open(eva: string): ServicePeer | Promise<ServicePeer>;
  /**
   * Kills a peer as a crash would: no goodbye to anyone. Destroy its endpoint (in-page), or cut its transport and keep
   * it from coming back (a real network): its registry session ends as the stack ends it.
   */
  kill(eva: string): void | Promise<void>;
  /** Closes everything the network opened; runs after the suite closed the services of each peer. */
  close(): Promise<void>;
}

export interface ServiceConformanceSetup {
  /** A fresh network for one test. */
  createNetwork(): ServiceNetwork | Promise<ServiceNetwork>;
  /** The services of a peer: `new PeerServices(endpoint, options)`. The suite closes them. */
  createServices(endpoint: MultiplexingEndpoint, options: { registry: RegistryClient; maxPendingCalls?: number }): ServicesUnderTest;
  /** The stack carries binary (Uint8Array) params and results: a MarshallerHub beneath the MultiplexHub. Default false. */
  carriesBinary?: boolean;
  /** How long to wait for an expected event, ms. Default 5000. */
  timeoutMs?: number;
  /**
   * The stack's loss bound: how long after `kill` its peers may take to notice, ms (InBrowserHub at once; WebSocketHub
   * when the broker reports the loss; RtcHub after iceTimeoutMs and what the layers above wait). Default timeoutMs.
   */
  lossBoundMs?: number;
}

/** Settles to the VnfError a promise rejected with; fails when it resolved or rejected anything else. */
async function rejection(promise: Promise<unknown>): Promise<VnfError> {
  const outcome = await promise.then(
    (value) => new Error(`resolved ${JSON.stringify(value)}, expected a rejection`),
    (err: unknown) => err,
  );
  if (!(outcome instanceof VnfError)) throw outcome instanceof Error ? outcome : new Error(`rejected with a non-VnfError: ${String(outcome)}`);
  return outcome;
}

/** A promise with its resolve outside. */
function deferred<T = void>(): { promise: Promise<T>; resolve(value: T): void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * Registers jest tests that peer services (`@vnf/services`' PeerServices, over a MultiplexingEndpoint) must pass on a
 * stack: calls and their results, the caller's eva, stable error codes, timeout and cancellation reaching the handler,
 * progress in order, the concurrency limit and its queue, a provider killed mid-call, callAny's failover, close.
 */
export function serviceConformance(name: string, setup: ServiceConformanceSetup): void {
  const timeoutMs = setup.timeoutMs ?? 5000;
  const lossBoundMs = setup.lossBoundMs ?? timeoutMs;
  const testTimeout = timeoutMs * 6 + lossBoundMs * 2;

  describe(`${name} — service conformance`, () => {
    let network: ServiceNetwork | null = null;
    let opened: ServicesUnderTest[] = [];
    const endpoints = new Map<ServicesUnderTest, MultiplexingEndpoint>();

    afterEach(async () => {
      const services = opened;
      opened = [];
      endpoints.clear();
      await Promise.all(services.map((s) => s.close().catch(() => undefined)));
      await network?.close();
      network = null;
    });

    /** Peers of one network, each with its services; `label`s become unique evas. */
    async function peers(...labels: string[]): Promise<ServicesUnderTest[]> {
      return peersWith({}, ...labels);
    }

    async function peersWith(options: { maxPendingCalls?: number }, ...labels: string[]): Promise<ServicesUnderTest[]> {
      network ??= await setup.createNetwork();
      const made: ServicesUnderTest[] = [];
      for (const label of labels) {
        const { endpoint, registry } = await network.open(uniqueEva(label));
        const services = setup.createServices(endpoint, { registry, ...options });
        opened.push(services);
        endpoints.set(services, endpoint);
        made.push(services);
      }
      return made;
    }

    it('a call resolves the result the handler returned (or resolved)', async () => {
      const [caller, provider] = await peers('caller', 'provider');
      provider.provide('sum', (params) => {
        const { a, b } = params as { a: number; b: number };
        return a + b;
      });
      provider.provide('later', async (params) => {
        await Promise.resolve();
        return `later:${String(params)}`;
      });
      expect(await caller.call(provider.eva, 'sum', { a: 1, b: 2 }, { timeoutMs })).toBe(3);
      expect(await caller.call(provider.eva, 'later', 'x', { timeoutMs })).toBe('later:x');
      expect(await caller.call(provider.eva, 'sum', { a: 40, b: 2 }, { timeoutMs })).toBe(42);
    }, testTimeout);

    const jsonSamples: unknown[] = [null, true, false, 0, -1.5, 'text', '', 'ünïcödé \u0000 "quoted"', [], [1, 'two', null, [3]], {}, { nested: { deep: [1, { k: 'v' }] }, n: null }];

    it('params and results round-trip as plain JSON', async () => {
      const [caller, provider] = await peers('caller', 'provider');
      const seen: unknown[] = [];
      provider.provide('echo', (params) => {
        seen.push(params);
        return { got: params };
      });
      for (const sample of jsonSamples) {
        expect(await caller.call(provider.eva, 'echo', sample, { timeoutMs })).toEqual({ got: sample });
      }
      expect(seen).toEqual(jsonSamples);
    }, testTimeout);

    if (setup.carriesBinary) {
      it('params and results round-trip with binary (Uint8Array) in them', async () => {
        const [caller, provider] = await peers('caller', 'provider');
        const seen: unknown[] = [];
        provider.provide('echo', (params) => {
          seen.push(params);
          return { got: params, made: Uint8Array.of(9, 8, 7) };
        });
        const samples: unknown[] = [Uint8Array.of(1, 2, 3), new Uint8Array(0), { bytes: Uint8Array.of(0, 255), list: [Uint8Array.of(5), 'x'] }];
        for (const sample of samples) {
          const result = (await caller.call(provider.eva, 'echo', sample, { timeoutMs })) as { got: unknown; made: unknown };
          expect(result).toEqual({ got: sample, made: Uint8Array.of(9, 8, 7) });
          expect(result.made).toBeInstanceOf(Uint8Array);
        }
        expect(seen).toEqual(samples);
      }, testTimeout);
    }

    it("the handler's ctx.caller is the caller's eva, and ctx.service the service's name", async () => {
      const [alice, bob, provider] = await peers('alice', 'bob', 'provider');
      provider.provide('who', (_params, ctx) => ({ caller: ctx.caller, service: ctx.service }));
      expect(await alice.call(provider.eva, 'who', { caller: 'someone else' }, { timeoutMs })).toEqual({ caller: alice.eva, service: 'who' });
      expect(await bob.call(provider.eva, 'who', null, { timeoutMs })).toEqual({ caller: bob.eva, service: 'who' });
    }, testTimeout);

    it('a VnfError thrown by the handler reaches the caller with its code and message', async () => {
      const [caller, provider] = await peers('caller', 'provider');
      provider.provide('refuses', (params) => {
        throw new VnfError('INVALID_ARGUMENT', `no thanks, ${String(params)}`);
      });
      provider.provide('rejects', async () => {
        await Promise.resolve();
        throw new VnfError('RATE_LIMITED', 'slow down, says the handler');
      });
      const thrown = await rejection(caller.call(provider.eva, 'refuses', 'alice', { timeoutMs }));
      expect({ code: thrown.code, message: thrown.message }).toEqual({ code: 'INVALID_ARGUMENT', message: 'no thanks, alice' });
      const rejected = await rejection(caller.call(provider.eva, 'rejects', null, { timeoutMs }));
      expect({ code: rejected.code, message: rejected.message }).toEqual({ code: 'RATE_LIMITED', message: 'slow down, says the handler' });
    }, testTimeout);

    it("anything else the handler throws is INTERNAL at the caller, without the provider's details", async () => {
      const [caller, provider] = await peers('caller', 'provider');
      const secret = `secret-${Math.random().toString(36).slice(2)}`;
      provider.provide('crashes', () => {
        throw new Error(`db password ${secret}`);
      });
      provider.provide('rejects', () => Promise.reject(new TypeError(`at ${secret}`)));
      provider.provide('throws a string', () => {
        throw `${secret} as a string`;
      });
      for (const service of ['crashes', 'rejects', 'throws a string']) {
        const error = await rejection(caller.call(provider.eva, service, null, { timeoutMs }));
        expect(error.code).toBe('INTERNAL');
        // Nothing the provider threw reaches the caller: not in the message, the details, the cause or the stack.
        expect(JSON.stringify({ message: error.message, details: error.details ?? null })).not.toContain(secret);
        expect(String(error.stack ?? '')).not.toContain(secret);
        expect(String((error as { cause?: unknown }).cause ?? '')).not.toContain(secret);
      }
    }, testTimeout);

    it('NOT_FOUND for a service the provider does not provide, or no longer provides', async () => {
      const [caller, provider] = await peers('caller', 'provider');
      expect((await rejection(caller.call(provider.eva, 'nothing', null, { timeoutMs }))).code).toBe('NOT_FOUND');
      const provision = provider.provide('brief', () => 'here');
      expect(await caller.call(provider.eva, 'brief', null, { timeoutMs })).toBe('here');
      await provision.stop();
      expect((await rejection(caller.call(provider.eva, 'brief', null, { timeoutMs }))).code).toBe('NOT_FOUND');
    }, testTimeout);

    it("FORBIDDEN when the provider's allow refuses the caller, before the handler runs", async () => {
      const [friend, stranger, provider] = await peers('friend', 'stranger', 'provider');
      const ran: string[] = [];
      const asked: string[] = [];
      provider.provide('private', (_params, ctx) => {
        ran.push(ctx.caller);
        return 'welcome';
      }, {
        allow: (caller) => {
          asked.push(caller);
          return caller === friend.eva;
        },
      });
      expect((await rejection(stranger.call(provider.eva, 'private', null, { timeoutMs }))).code).toBe('FORBIDDEN');
      expect(await friend.call(provider.eva, 'private', null, { timeoutMs })).toBe('welcome');
      expect(ran).toEqual([friend.eva]);
      expect(asked).toEqual([stranger.eva, friend.eva]);
    }, testTimeout);

    /** A service whose handler runs until its signal fires: `started` once it runs, `aborted` with the signal's reason. */
    function untilAborted(provider: ServicesUnderTest, service: string) {
      const started = deferred<ServiceContextUnderTest>();
      const aborted = deferred<unknown>();
      provider.provide(service, (_params, ctx) => {
        started.resolve(ctx);
        return new Promise((resolve) => {
          ctx.signal.addEventListener('abort', () => {
            aborted.resolve(ctx.signal.reason);
            resolve('too late');
          });
        });
      });
      return {
        started: (what: string) => waitFor<ServiceContextUnderTest>(`the handler of ${service} to start (${what})`, timeoutMs, (done) => void started.promise.then(done)),
        aborted: (what: string) => waitFor<unknown>(`the handler's signal of ${service} to fire (${what})`, timeoutMs * 2, (done) => void aborted.promise.then(done)),
      };
    }

    it("a caller's timeout rejects TIMEOUT and fires the handler's signal", async () => {
      const [caller, provider] = await peers('caller', 'provider');
      // First a call that answers in time, so that the timed-out one below surely reached the provider.
      provider.provide('ping', () => 'pong');
      expect(await caller.call(provider.eva, 'ping', null, { timeoutMs })).toBe('pong');
      const slow = untilAborted(provider, 'slow');
      const call = caller.call(provider.eva, 'slow', null, { timeoutMs: Math.max(200, Math.floor(timeoutMs / 5)) });
      const ctx = await slow.started('a call with a short timeoutMs');
      expect(ctx.signal.aborted).toBe(false);
      expect((await rejection(call)).code).toBe('TIMEOUT');
      await slow.aborted('after the caller timed out');
      expect(ctx.signal.aborted).toBe(true);
    }, testTimeout);

    it("a call cancelled through its AbortSignal rejects CANCELLED and fires the handler's signal", async () => {
      const [caller, provider] = await peers('caller', 'provider');
      const slow = untilAborted(provider, 'slow');
      const controller = new AbortController();
      const call = caller.call(provider.eva, 'slow', null, { signal: controller.signal, timeoutMs: timeoutMs * 4 });
      const ctx = await slow.started('a call to cancel');
      controller.abort();
      expect((await rejection(call)).code).toBe('CANCELLED');
      await slow.aborted('after the caller cancelled');
      expect(ctx.signal.aborted).toBe(true);
      // A signal aborted already: CANCELLED without running anything.
      expect((await rejection(caller.call(provider.eva, 'slow', null, { signal: controller.signal, timeoutMs }))).code).toBe('CANCELLED');
    }, testTimeout);

    it("the provider's timeoutMs: the caller gets TIMEOUT and the handler's signal fires", async () => {
      const [caller, provider] = await peers('caller', 'provider');
      const aborted = deferred<unknown>();
      provider.provide('bounded', (_params, ctx) => new Promise((resolve) => {
        ctx.signal.addEventListener('abort', () => {
          aborted.resolve(ctx.signal.reason);
          resolve('too late');
        });
      }), { timeoutMs: Math.max(100, Math.floor(timeoutMs / 10)) });
      // The caller would wait far longer: the TIMEOUT is the provider's.
      expect((await rejection(caller.call(provider.eva, 'bounded', null, { timeoutMs: timeoutMs * 4 }))).code).toBe('TIMEOUT');
      await waitFor('the handler\'s signal after its timeoutMs', timeoutMs, (done) => void aborted.promise.then(done));
    }, testTimeout);

    it("a caller killed mid-call: the handler's signal fires", async () => {
      const [caller, provider] = await peers('caller', 'provider');
      const slow = untilAborted(provider, 'slow');
      void caller.call(provider.eva, 'slow', null, { timeoutMs: lossBoundMs * 3 + timeoutMs * 4 }).catch(() => undefined);
      await slow.started('a call whose caller is then killed');
      await network!.kill(caller.eva);
      await waitFor("the handler's signal after its caller was killed", lossBoundMs + timeoutMs * 2, (done) => void slow.aborted('after its caller was killed').then(done));
    }, testTimeout);

    it('a caller past its maxPendingCalls is refused BUFFER_FULL at once; its other calls go on', async () => {
      const [caller] = await peersWith({ maxPendingCalls: 2 }, 'caller');
      const [provider] = await peers('provider');
      const release = deferred();
      let ran = 0;
      provider.provide('gate', async (n) => {
        ran++;
        await release.promise;
        return n;
      });
      const held = [caller.call(provider.eva, 'gate', 0, { timeoutMs: timeoutMs * 4 }), caller.call(provider.eva, 'gate', 1, { timeoutMs: timeoutMs * 4 })];
      expect((await rejection(caller.call(provider.eva, 'gate', 2, { timeoutMs }))).code).toBe('BUFFER_FULL');
      await until('both held calls to run', timeoutMs, () => ran === 2);
      release.resolve();
      expect(await Promise.all(held)).toEqual([0, 1]);
      expect(ran).toBe(2);
      // A slot is free again.
      expect(await caller.call(provider.eva, 'gate', 3, { timeoutMs })).toBe(3);
    }, testTimeout);

    it('progress values arrive in order, all before the result, and none after it', async () => {
      const [caller, provider] = await peers('caller', 'provider');
      const count = 50;
      let finished: ServiceContextUnderTest | null = null;
      provider.provide('steps', async (_params, ctx) => {
        for (let i = 0; i < count; i++) {
          ctx.progress({ step: i });
          if (i % 10 === 9) await Promise.resolve();
        }
        finished = ctx;
        return 'done';
      });
      // Sends a progress value for the finished call, then answers: that late value, were it delivered, arrives first.
      provider.provide('late', () => {
        finished?.progress({ step: 'late' });
        return 'flushed';
      });
      const events: string[] = [];
      let resolved = false;
      const result = await caller.call(provider.eva, 'steps', null, {
        timeoutMs: timeoutMs * 2,
        onProgress: (value) => events.push(`${resolved ? 'after' : 'before'}:${JSON.stringify(value)}`),
      }).then((value) => {
        resolved = true;
        return value;
      });
      expect(result).toBe('done');
      expect(await caller.call(provider.eva, 'late', null, { timeoutMs })).toBe('flushed');
      expect(events).toEqual(Array.from({ length: count }, (_, i) => `before:{"step":${i}}`));
    }, testTimeout);

    it('with concurrency 4 and maxQueued 100, 100 calls in flight: never more than 4 handlers run at once, and all 100 complete', async () => {
      const [caller, provider] = await peers('caller', 'provider');
      const total = 100;
      let running = 0;
      let most = 0;
      let started = 0;
      const order: number[] = [];
      const provision = provider.provide('work', async (n) => {
        started++;
        running++;
        most = Math.max(most, running);
        order.push(n as number);
        // Hold every handler until every call reached the provider (running or queued): a provider that ignored the
        // limit would by then be running far more than 4.
        await until('every call to reach the provider', timeoutMs * 2, () => started + provision.queued >= total, () => `started ${started}, queued ${provision.queued}`);
        running--;
        return (n as number) * 2;
      }, { concurrency: 4, maxQueued: 100 });
      const results = await Promise.all(Array.from({ length: total }, (_, n) => caller.call(provider.eva, 'work', n, { timeoutMs: timeoutMs * 4 })));
      expect(results).toEqual(Array.from({ length: total }, (_, n) => n * 2));
      expect(most).toBeLessThanOrEqual(4);
      expect(most).toBe(4);
      expect(started).toBe(total);
      // The queue is FIFO: the calls ran in the order they were made (one caller, one connection).
      expect(order).toEqual(Array.from({ length: total }, (_, n) => n));
      expect(provision.running).toBe(0);
      expect(provision.queued).toBe(0);
    }, testTimeout * 2);

    it('a call past the queue (maxQueued) is refused BUFFER_FULL at once; those queued still complete', async () => {
      const [caller, provider] = await peers('caller', 'provider');
      const release = deferred();
      let ran = 0;
      const provision = provider.provide('gate', async (n) => {
        ran++;
        await release.promise;
        return n;
      }, { concurrency: 1, maxQueued: 2 });
      const held = [caller.call(provider.eva, 'gate', 0, { timeoutMs: timeoutMs * 4 })];
      await until('the first call to run', timeoutMs, () => provision.running === 1);
      held.push(caller.call(provider.eva, 'gate', 1, { timeoutMs: timeoutMs * 4 }), caller.call(provider.eva, 'gate', 2, { timeoutMs: timeoutMs * 4 }));
      await until('two calls queued', timeoutMs, () => provision.queued === 2, () => `queued ${provision.queued}`);
      expect((await rejection(caller.call(provider.eva, 'gate', 3, { timeoutMs }))).code).toBe('BUFFER_FULL');
      expect(ran).toBe(1);
      release.resolve();
      expect(await Promise.all(held)).toEqual([0, 1, 2]);
      expect(ran).toBe(3);
    }, testTimeout);

    it('a provider killed mid-call: the caller gets UNAVAILABLE within the stack\'s loss bound', async () => {
      const [caller, provider] = await peers('caller', 'provider');
      const started = deferred();
      provider.provide('forever', () => {
        started.resolve();
        return new Promise(() => undefined);
      });
      // A call timeout far past the loss bound: TIMEOUT would mean the loss was never noticed.
      const call = caller.call(provider.eva, 'forever', null, { timeoutMs: lossBoundMs * 2 + timeoutMs });
      await waitFor('the handler to start', timeoutMs, (done) => void started.promise.then(done));
      await network!.kill(provider.eva);
      expect((await rejection(call)).code).toBe('UNAVAILABLE');
    }, testTimeout);

    /** Providers of `service` that count executions; the first execution (on any of them) hangs until its provider is killed. */
    async function countingProviders(service: string, labels: string[]) {
      const providers = await peers(...labels);
      const executions: string[] = [];
      const firstStarted = deferred<string>();
      const provisions = providers.map((provider) =>
        provider.provide(service, (_params, ctx) => {
          executions.push(provider.eva);
          if (executions.length === 1) {
            firstStarted.resolve(provider.eva);
            return new Promise(() => undefined);
          }
          return { by: provider.eva, caller: ctx.caller };
        }, { advertise: true }),
      );
      await Promise.all(provisions.map((p) => p.advertised));
      return {
        providers,
        executions,
        first: () => waitFor<string>(`the first execution of ${service}`, timeoutMs, (done) => void firstStarted.promise.then(done)),
      };
    }

    it('callAny picks live providers, in turn, and never one that was killed', async () => {
      const [caller] = await peers('caller');
      const providers = await peers('one', 'two', 'three');
      const provisions = providers.map((provider) => provider.provide('job', (_params, ctx) => ({ by: provider.eva, caller: ctx.caller }), { advertise: true }));
      await Promise.all(provisions.map((p) => p.advertised));
      const seen = new Set<string>();
      for (let i = 0; i < 6; i++) {
        const result = (await caller.callAny('job', i, { timeoutMs })) as { by: string; caller: string };
        expect(result.caller).toBe(caller.eva);
        seen.add(result.by);
      }
      // Round-robin: six calls over three providers reach each.
      expect([...seen].sort()).toEqual(providers.map((p) => p.eva).sort());
      const [dead, ...live] = providers;
      await network!.kill(dead!.eva);
      // Once the caller noticed the loss, a provider it may still find advertised (over a broker its ad lasts the
      // grace of its session) cannot be reached: a call to it is never delivered, so even one not marked idempotent
      // goes to another.
      const callerEndpoint = endpoints.get(caller)!;
      await until(`${caller.eva} to notice the loss of ${dead!.eva}`, lossBoundMs + timeoutMs, () => !callerEndpoint.isConnected(dead!.eva));
      const after = new Set<string>();
      for (let i = 0; i < 6; i++) {
        const result = (await caller.callAny('job', i, { timeoutMs: lossBoundMs + timeoutMs * 2 })) as { by: string };
        after.add(result.by);
      }
      expect([...after].sort()).toEqual(live.map((p) => p.eva).sort());
    }, testTimeout * 2);

    it('callAny retries an idempotent call on another provider when its provider is lost mid-call', async () => {
      const [caller] = await peers('caller');
      const { executions, first } = await countingProviders('idem', ['one', 'two']);
      const call = caller.callAny('idem', null, { idempotent: true, timeoutMs: lossBoundMs * 3 + timeoutMs * 4 });
      const lostOne = await first();
      await network!.kill(lostOne);
      const result = (await call) as { by: string; caller: string };
      expect(result.by).not.toBe(lostOne);
      expect(result.caller).toBe(caller.eva);
      expect(executions).toEqual([lostOne, result.by]);
    }, testTimeout * 2);

    it('callAny never runs a call not marked idempotent twice: its provider lost mid-call, it rejects UNAVAILABLE', async () => {
      const [caller] = await peers('caller');
      const { providers, executions, first } = await countingProviders('once', ['one', 'two']);
      const call = caller.callAny('once', null, { timeoutMs: lossBoundMs * 3 + timeoutMs * 4 });
      const lostOne = await first();
      await network!.kill(lostOne);
      expect((await rejection(call)).code).toBe('UNAVAILABLE');
      // A call to the other provider after that: a retry sent to it would have been run by then.
      const other = providers.find((p) => p.eva !== lostOne)!;
      expect(await caller.call(other.eva, 'once', null, { timeoutMs })).toEqual({ by: other.eva, caller: caller.eva });
      expect(executions).toEqual([lostOne, other.eva]);
    }, testTimeout * 2);

    it('after close: calls in flight reject DESTROYED, their handlers are aborted, and call, callAny and provide are refused DESTROYED', async () => {
      const [caller, provider] = await peers('caller', 'provider');
      const slow = untilAborted(provider, 'slow');
      const call = caller.call(provider.eva, 'slow', null, { timeoutMs: timeoutMs * 4 });
      await slow.started('a call in flight when its caller closes');
      await caller.close();
      expect((await rejection(call)).code).toBe('DESTROYED');
      await slow.aborted('after its caller closed');
      expect((await rejection(caller.call(provider.eva, 'slow', null, { timeoutMs }))).code).toBe('DESTROYED');
      expect((await rejection(caller.callAny('slow', null, { timeoutMs }))).code).toBe('DESTROYED');
      expect((await rejection((async () => caller.provide('late', () => 'no'))())).code).toBe('DESTROYED');
    }, testTimeout);
  });
}
