// A Redis-backed Router (docs/design.md, Routing and scale) can fail. The broker must close or refuse the affected socket, never crash.
import { CloseCode, WebSocketFactory, WebSocketHub } from '@vnf/websocket-hub';
import { MemoryRouter, type Router } from '../src';
import { startBroker, type Running } from './fixture';
import { RawClient } from './rawClient';

/** A router that works until told to fail. */
class FlakyRouter implements Router {
  failClaims = false;
  failLookups = false;
  private readonly inner = new MemoryRouter();
  claim: Router['claim'] = (...args) => (this.failClaims ? Promise.reject(new Error('router down')) : this.inner.claim(...args));
  lookup: Router['lookup'] = (...args) => (this.failLookups ? Promise.reject(new Error('router down')) : this.inner.lookup(...args));
  release: Router['release'] = (...args) => this.inner.release(...args);
  renew: Router['renew'] = (...args) => this.inner.renew(...args);
}

let running: Running;
afterEach(() => running.close());

describe('broker when its router fails', () => {
  it('closes a registering socket with 1011 and keeps serving others', async () => {
    const router = new FlakyRouter();
    running = await startBroker({ router });
    router.failClaims = true;
    const client = running.track(await RawClient.connect(running.url));
    client.hello('unlucky').catch(() => undefined);
    expect(await client.closedWithin()).toBe(CloseCode.INTERNAL);
    router.failClaims = false;
    const hub = new WebSocketHub(new WebSocketFactory(running.url));
    try {
      const a = hub.openEndpoint('a');
      const b = hub.openEndpoint('b');
      expect((await a.openConnection('b')).status).toBe('CONNECTED');
      const got = new Promise((resolve) => (b.onMessage = (e) => resolve(e.message)));
      a.send('b', 'still serving');
      expect(await got).toBe('still serving');
    } finally {
      await hub.close();
    }
  });

  it('refuses an open whose lookup fails: FAILED with reason INTERNAL, the socket stays up', async () => {
    const router = new FlakyRouter();
    running = await startBroker({ router });
    const hub = new WebSocketHub(new WebSocketFactory(running.url));
    try {
      const a = hub.openEndpoint('a');
      hub.openEndpoint('b');
      expect((await a.openConnection('b')).status).toBe('CONNECTED');
      router.failLookups = true;
      hub.openEndpoint('c');
      const refused = await a.openConnection('c');
      expect(refused).toEqual({ status: 'FAILED', targetEva: 'c', reason: 'INTERNAL' });
      router.failLookups = false;
      expect((await a.openConnection('c')).status).toBe('CONNECTED');
    } finally {
      await hub.close();
    }
  });
});
