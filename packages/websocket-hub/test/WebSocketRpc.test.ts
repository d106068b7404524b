import { VnfError, type Rpc } from '@vnf/core';
import { trackResources } from '@vnf/conformance';
import { WebSocketHub, WebSocketRpc } from '../src';
import { startBroker, until, type RunningBroker } from './brokerFixture';

let running: RunningBroker;
const closers: (() => Promise<void>)[] = [];
const neverAnswered: (() => void)[] = [];

beforeEach(async () => {
  running = await startBroker({
    methods: {
      echo: (params, context) => ({ params, eva: context.eva, role: context.role }),
      never: () => new Promise((resolve) => neverAnswered.push(() => resolve(null))),
      forbidden: () => {
        throw new VnfError('FORBIDDEN', 'not yours');
      },
      crash: () => {
        throw new Error('internal detail');
      },
    },
  });
});
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
  for (const answer of neverAnswered.splice(0)) answer();
  await running.close();
});

function ownRpc(eva: string): WebSocketRpc {
  const rpc = new WebSocketRpc(eva, running.factory());
  closers.push(() => rpc.close());
  return rpc;
}

function sharedRpc(eva: string): Rpc {
  const hub = new WebSocketHub(running.factory());
  closers.push(() => hub.close());
  return hub.openEndpoint(eva).getWebSocketRpc();
}

/** Params that are no JSON value: JSON.stringify throws on each, or has no text for it. */
function unserializable(): unknown[] {
  const cyclic: Record<string, unknown> = { name: 'loop' };
  cyclic.self = cyclic;
  const throwing = {
    toJSON: () => {
      throw new Error('toJSON failed');
    },
  };
  return [cyclic, BigInt(1), { nested: [BigInt(2)] }, throwing, () => 1, Symbol('s')];
}

async function rejection(promise: Promise<unknown>): Promise<VnfError> {
  try {
    await promise;
  } catch (err) {
    return err as VnfError;
  }
  throw new Error('expected a rejection');
}

describe.each([
  ['WebSocketRpc (own socket)', ownRpc, 'rpc'],
  ['endpoint.getWebSocketRpc() (shared socket)', sharedRpc, 'endpoint'],
] as const)('%s', (_name, create, role) => {
  it('calls made before the socket is up wait for it; results carry the broker-stamped eva', async () => {
    const rpc = create('caller');
    await expect(rpc.call('echo', { n: 1 })).resolves.toEqual({ params: { n: 1 }, eva: 'caller', role });
  });

  it('a call the broker never answers rejects TIMEOUT after its own timeout; the channel keeps working', async () => {
    const rpc = create('caller');
    await rpc.call('echo', null);
    const error = await rejection(rpc.call('never', null, { timeoutMs: 100 }));
    expect(error.code).toBe('TIMEOUT');
    await expect(rpc.call('echo', 2)).resolves.toMatchObject({ params: 2 });
  });

  it("broker errors reject as VnfError with the broker's code", async () => {
    const rpc = create('caller');
    expect((await rejection(rpc.call('forbidden', null))).code).toBe('FORBIDDEN');
    const crash = await rejection(rpc.call('crash', null));
    expect(crash.code).toBe('INTERNAL');
    expect(crash.message).not.toContain('internal detail');
    expect((await rejection(rpc.call('no.such.method', null))).code).toBe('NOT_FOUND');
  });

  it('while down calls reject UNAVAILABLE; state changes report down then up', async () => {
    const rpc = create('caller');
    await rpc.call('echo', null);
    const states: string[] = [];
    rpc.onStateChange((state) => states.push(state));
    const pending = rejection(rpc.call('never', null));
    expect(running.broker.terminate('caller', role)).toBe(true);
    expect((await pending).code).toBe('UNAVAILABLE');
    await until(() => states.length > 0, 'down');
    expect((await rejection(rpc.call('echo', null))).code).toBe('UNAVAILABLE');
    await until(() => states.length > 1, 'up');
    expect(states).toEqual(['down', 'up']);
    await expect(rpc.call('echo', 3)).resolves.toMatchObject({ params: 3 });
  });

  it('params JSON cannot carry reject INVALID_PAYLOAD at the call while connected, leaving no timer', async () => {
    const rpc = create('caller');
    await rpc.call('echo', null);
    const resources = trackResources();
    for (const params of unserializable()) {
      const error = await rejection(rpc.call('echo', params));
      expect(VnfError.is(error, 'INVALID_PAYLOAD')).toBe(true);
      expect(error.message).toContain('echo');
    }
    await resources.released(5000, 'the timers of the refused calls to be released');
    await expect(rpc.call('echo', 2)).resolves.toMatchObject({ params: 2 });
  });

  it('params JSON cannot carry reject INVALID_PAYLOAD at once before connecting; the calls queued with them are sent', async () => {
    const rpc = create('caller');
    const states: string[] = [];
    rpc.onStateChange((state) => states.push(state));
    const first = rpc.call('echo', 1, { timeoutMs: 5000 });
    first.catch(() => undefined); // awaited below, unless an expectation fails first
    const resources = trackResources();
    const refused = unserializable().map((params) => rejection(rpc.call('echo', params, { timeoutMs: 5000 })));
    const errors = await Promise.all(refused);
    // Only microtasks ran since the calls: the socket is not up yet, and the refused calls armed no timer.
    expect(states).toEqual([]);
    expect(resources.describe()).toBe('nothing the test created is still alive');
    resources.stop();
    expect(errors.map((e) => VnfError.is(e, 'INVALID_PAYLOAD'))).toEqual(unserializable().map(() => true));
    const last = rpc.call('echo', 3, { timeoutMs: 5000 });
    await expect(first).resolves.toMatchObject({ params: 1 });
    await expect(last).resolves.toMatchObject({ params: 3 });
    expect(states).toEqual(['up']);
  });

  it('a call larger than a broker frame rejects TOO_LARGE at the call; the socket stays up', async () => {
    const rpc = create('caller');
    await rpc.call('echo', null);
    const states: string[] = [];
    rpc.onStateChange((state) => states.push(state));
    const error = await rejection(rpc.call('echo', 'x'.repeat(1024 * 1024)));
    expect(error.code).toBe('TOO_LARGE');
    expect(error.message).toContain('echo');
    await expect(rpc.call('echo', 'x'.repeat(1000))).resolves.toMatchObject({ eva: 'caller' });
    expect(states).toEqual([]);
  });

  it('after close every call rejects DESTROYED, pending ones included', async () => {
    const rpc = create('caller');
    await rpc.call('echo', null);
    const pending = rejection(rpc.call('never', null));
    await rpc.close();
    expect((await pending).code).toBe('DESTROYED');
    expect((await rejection(rpc.call('echo', null))).code).toBe('DESTROYED');
  });
});

describe('own and shared RPC of one eva', () => {
  it("an own rpc socket cannot speak for a live endpoint's eva (EVA_IN_USE); the endpoint's own Rpc is served", async () => {
    const shared = sharedRpc('same');
    await expect(shared.call('echo', 'b')).resolves.toEqual({ params: 'b', eva: 'same', role: 'endpoint' });
    const own = ownRpc('same');
    expect((await rejection(own.call('echo', 'a'))).code).toBe('EVA_IN_USE');
    await expect(shared.call('echo', 'c')).resolves.toMatchObject({ params: 'c' });
  });

  it('notifications reach onNotification (registry watch)', async () => {
    const rpc = ownRpc('watcher');
    const got: [string, unknown][] = [];
    rpc.onNotification((method, params) => got.push([method, params]));
    await rpc.call('registry.watch', { collection: 'c', watchId: 'w1' });
    const writer = ownRpc('writer');
    await writer.call('registry.create', { collection: 'c', name: 'n', value: 42 });
    await until(() => got.length > 0, 'a notification');
    expect(got[0][0]).toBe('registry.change');
    expect(JSON.stringify(got[0][1])).toContain('42');
  });
});

describe('a throwing state or notification listener', () => {
  it('on an endpoint Rpc: becomes a LISTENER_ERROR error event on the endpoint; the other listeners and the channel go on', async () => {
    const hub = new WebSocketHub(running.factory());
    closers.push(() => hub.close());
    const endpoint = hub.openEndpoint('lis');
    const errors: VnfError[] = [];
    endpoint.on('error', (error) => errors.push(error));
    const rpc = endpoint.getWebSocketRpc();
    const states: string[] = [];
    rpc.onStateChange(() => {
      throw new Error('state listener failed');
    });
    rpc.onStateChange((state) => states.push(state));
    await rpc.call('echo', 1);
    // The first 'up' came before the answer; count from the cut on.
    expect(states).toEqual(['up']);
    states.length = 0;
    errors.length = 0;
    expect(running.broker.terminate('lis')).toBe(true);
    await until(() => states.includes('up'), 'the channel to come back');
    expect(states).toEqual(['down', 'up']);
    expect(errors.map((e) => e.code)).toEqual(['LISTENER_ERROR', 'LISTENER_ERROR']);
    expect(errors[0].message).toContain('state listener failed');
    await expect(rpc.call('echo', 2)).resolves.toMatchObject({ params: 2 });
  });

  it('on an own WebSocketRpc: goes to onError as LISTENER_ERROR', async () => {
    const errors: VnfError[] = [];
    const rpc = new WebSocketRpc('own-lis', running.factory(), { onError: (error) => errors.push(error) });
    closers.push(() => rpc.close());
    const states: string[] = [];
    rpc.onStateChange((state) => {
      states.push(state);
      throw new Error('state listener failed');
    });
    await rpc.call('echo', 1);
    expect(states).toEqual(['up']);
    states.length = 0;
    errors.length = 0;
    expect(running.broker.terminate('own-lis', 'rpc')).toBe(true);
    await until(() => states.includes('up'), 'the channel to come back');
    expect(errors.map((e) => e.code)).toEqual(['LISTENER_ERROR', 'LISTENER_ERROR']);
    await expect(rpc.call('echo', 2)).resolves.toMatchObject({ params: 2 });
  });
});

describe('WebSocketRpc options', () => {
  it('a misspelt option throws INVALID_ARGUMENT naming the option meant, before any socket opens', () => {
    expect(() => new WebSocketRpc('typo', running.factory(), { callTimeout: 5 } as never)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', message: 'Unknown WebSocketRpc option "callTimeout". Did you mean "callTimeoutMs"?' }),
    );
    expect(() => new WebSocketRpc('typo', running.factory(), { onError: 'log' } as never)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', message: 'WebSocketRpc option "onError" must be a function; got the string "log".' }),
    );
  });
});
