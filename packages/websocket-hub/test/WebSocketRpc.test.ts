import { VnfError, type Rpc } from '@vnf/core';
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
  it('do not collide: an rpc socket and an endpoint of the same eva are both served', async () => {
    const own = ownRpc('same');
    const shared = sharedRpc('same');
    await expect(own.call('echo', 'a')).resolves.toEqual({ params: 'a', eva: 'same', role: 'rpc' });
    await expect(shared.call('echo', 'b')).resolves.toEqual({ params: 'b', eva: 'same', role: 'endpoint' });
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
