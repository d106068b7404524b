import { hubConformance } from '@vnf/conformance';
import { InBrowserHub } from '@vnf/in-browser-hub';
import { DecoratorEndpoint, DecoratorHub, VnfError } from '../src';

// A decorator that changes nothing is one line, and keeps every rule of the contract.
class PassThroughHub extends DecoratorHub {}

hubConformance('DecoratorHub (pass-through) over InBrowserHub', { createHub: () => new PassThroughHub(new InBrowserHub()) });

// A decorator that changes the message path overrides two hooks.
class UpperCaseEndpoint extends DecoratorEndpoint {
  protected override transmit(targetEva: string, message: unknown): void {
    super.transmit(targetEva, String(message).toUpperCase());
  }
}
class UpperCaseHub extends DecoratorHub {
  protected override wrapEndpoint(inner: ConstructorParameters<typeof DecoratorEndpoint>[0], options: object) {
    return new UpperCaseEndpoint(inner, options);
  }
}

describe('DecoratorHub', () => {
  it('wraps the inner endpoint of the same eva and runs the overridden hooks', async () => {
    const inner = new InBrowserHub();
    const hub = new UpperCaseHub(inner);
    const a = hub.openEndpoint('a');
    const b = hub.openEndpoint('b');
    const got = new Promise((resolve) => (b.onMessage = (e) => resolve(e.message)));
    await a.openConnection('b');
    a.send('b', 'shout');
    await expect(got).resolves.toBe('SHOUT');
    expect(hub.maxPayloadSize).toBe(inner.maxPayloadSize);
    await hub.close();
    // Closing the decorator closes the hub it wraps.
    expect(() => inner.openEndpoint('c')).toThrow(VnfError);
  });

  it('lets the user open the eva held by a decorator once more on the inner hub (the seed shares a socket that way)', async () => {
    const inner = new InBrowserHub();
    const hub = new PassThroughHub(inner);
    const outer = hub.openEndpoint('shared');
    const sameEva = inner.openEndpoint('shared');
    expect(sameEva.eva).toBe(outer.eva);
    expect(() => inner.openEndpoint('shared')).toThrow(expect.objectContaining({ code: 'EVA_IN_USE' }));
    await hub.close();
    expect(sameEva.destroyed).toBe(true);
  });

  it('destroying the decorator endpoint destroys the inner one and frees the eva at both levels', async () => {
    const inner = new InBrowserHub();
    const hub = new PassThroughHub(inner);
    const endpoint = hub.openEndpoint('x');
    endpoint.destroy();
    expect(() => hub.openEndpoint('x')).not.toThrow();
    await hub.close();
  });

  it('once destroyed, ignores what a still-open inner endpoint reports (a decorator lingering to flush a goodbye)', async () => {
    const inner = new InBrowserHub();
    class LingeringEndpoint extends DecoratorEndpoint {
      seen: unknown[] = [];
      protected override teardown(): void {} // keeps the inner endpoint open, as ReliableHub does for up to 1 s
      protected override receive(sourceEva: string, message: unknown): void {
        this.seen.push(message);
        super.receive(sourceEva, message);
      }
      protected override innerConnected(peerEva: string): void {
        this.seen.push(`connection:${peerEva}`);
        super.innerConnected(peerEva);
      }
    }
    const innerA = inner.openEndpoint('a');
    const lingering = new LingeringEndpoint(innerA);
    const b = inner.openEndpoint('b');
    await b.openConnection('a');
    b.send('a', 'before');
    await new Promise<void>((resolve) => innerA.once('message', () => setImmediate(resolve)));
    expect(lingering.seen).toEqual(['connection:b', 'before']);
    lingering.destroy();
    const c = inner.openEndpoint('c');
    await c.openConnection('a');
    b.send('a', 'after destroy');
    await new Promise<void>((resolve) => innerA.once('message', () => setImmediate(resolve)));
    expect(lingering.seen).toEqual(['connection:b', 'before']);
    await inner.close();
  });
});
