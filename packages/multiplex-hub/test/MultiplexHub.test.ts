import { ConnectionStatus, DecoratorEndpoint, DecoratorHub, type ConnectionEvent, type Endpoint, type EndpointOptions } from '@vnf/core';
import { InBrowserHub } from '@vnf/in-browser-hub';
import { MultiplexHub, type MultiplexHubOptions } from '@vnf/multiplex-hub';
import { MAX_SUB_HEADER_BYTES } from '../src/frameCodec';
import { closeAll, thrown, thrownCode, track } from './helpers';

afterEach(closeAll);

describe('construction', () => {
  it('fills in the documented defaults, frozen', () => {
    const hub = track(new MultiplexHub(new InBrowserHub()));
    expect(hub.options).toEqual({ connectTimeoutMs: 10_000, reportUnknownSubProtocols: true });
    expect(Object.isFrozen(hub.options)).toBe(true);
    const custom = track(new MultiplexHub(new InBrowserHub(), { connectTimeoutMs: 500, reportUnknownSubProtocols: false }));
    expect(custom.options).toEqual({ connectTimeoutMs: 500, reportUnknownSubProtocols: false });
  });

  it('carries the inner limit minus the app frame byte', () => {
    expect(track(new MultiplexHub(new InBrowserHub({ maxPayloadSize: 1000 }))).maxPayloadSize).toBe(999);
    expect(track(new MultiplexHub(new InBrowserHub({ maxPayloadSize: Infinity }))).maxPayloadSize).toBe(Infinity);
  });

  it('rejects an unknown option with INVALID_ARGUMENT naming it and the option meant', () => {
    const inner = track(new InBrowserHub());
    const error = thrown(() => new MultiplexHub(inner, { reportUnknownSubProtocol: true } as MultiplexHubOptions));
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toContain('"reportUnknownSubProtocol"');
    expect(error.message).toContain('"reportUnknownSubProtocols"');
    expect(thrown(() => new MultiplexHub(inner, { nonsense: 1 } as MultiplexHubOptions)).message).toContain('"nonsense"');
  });

  it.each<[string, unknown]>([
    ['connectTimeoutMs 0', { connectTimeoutMs: 0 }],
    ['a negative connectTimeoutMs', { connectTimeoutMs: -5 }],
    ['a string connectTimeoutMs', { connectTimeoutMs: '100' }],
    ['a non-boolean reportUnknownSubProtocols', { reportUnknownSubProtocols: 'yes' }],
    ['options that are not an object', 5],
  ])('rejects %s with INVALID_ARGUMENT', (_what, options) => {
    const inner = track(new InBrowserHub());
    expect(thrownCode(() => new MultiplexHub(inner, options as MultiplexHubOptions))).toBe('INVALID_ARGUMENT');
  });

  it('rejects a missing inner hub, and one whose frames cannot hold the largest header', () => {
    expect(thrownCode(() => new MultiplexHub(undefined as unknown as InBrowserHub))).toBe('INVALID_ARGUMENT');
    const small = track(new InBrowserHub({ maxPayloadSize: MAX_SUB_HEADER_BYTES }));
    expect(thrownCode(() => new MultiplexHub(small))).toBe('INVALID_ARGUMENT');
    expect(track(new MultiplexHub(track(new InBrowserHub({ maxPayloadSize: MAX_SUB_HEADER_BYTES + 1 })))).maxPayloadSize).toBe(MAX_SUB_HEADER_BYTES);
  });
});

/** An inner endpoint whose connections never open (its own timeout is far off). */
class StallingEndpoint extends DecoratorEndpoint {
  protected override connect(): Promise<ConnectionEvent> {
    return new Promise<ConnectionEvent>(() => undefined);
  }
}
class StallingHub extends DecoratorHub {
  protected override wrapEndpoint(inner: Endpoint, options: EndpointOptions): StallingEndpoint {
    return new StallingEndpoint(inner, { ...options, connectTimeoutMs: 60_000 });
  }
}

it('connectTimeoutMs bounds openConnection', async () => {
  const hub = track(new MultiplexHub(new StallingHub(new InBrowserHub()), { connectTimeoutMs: 30 }));
  const a = hub.openEndpoint('a');
  hub.openEndpoint('b');
  expect(await a.openConnection('b')).toEqual({ status: ConnectionStatus.TIMEOUT, targetEva: 'b', reason: 'TIMEOUT' });
});

it('the README example runs as written', async () => {
  const lines: string[] = [];
  const console = { info: (line: string) => lines.push(line) };
  // ---- from README.md, Example ----
  const hub = new MultiplexHub(new InBrowserHub());
  const alice = hub.openEndpoint('alice');
  const bob = hub.openEndpoint('bob');

  // Open sub-protocols before connecting: a message for a name the receiver has not opened is dropped.
  const alicePing = alice.subProtocol('ping');
  const bobPing = bob.subProtocol('ping');

  bob.onMessage = (event) => console.info(`bob's app got "${event.message}" from ${event.sourceEva}`);
  bobPing.onMessage = (event) => bobPing.send(event.sourceEva, `pong ${event.message}`);
  const pong = new Promise((resolve) => (alicePing.onMessage = (event) => resolve(event.message)));

  const { status } = await alice.openConnection('bob');
  if (status === 'CONNECTED') {
    alice.send('bob', 'hello'); // reaches bob.onMessage only
    alicePing.send('bob', '1'); // reaches bobPing only
    console.info(`alice got "${await pong}"`);
  }
  await hub.close();
  // ---- end ----
  expect(lines).toEqual(['bob\'s app got "hello" from alice', 'alice got "pong 1"']);
});
