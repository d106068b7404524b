import { InBrowserHub } from '@vnf/in-browser-hub';
import { Identity, MemoryKeyStore, RECORD_OVERHEAD, SecureHub } from '../src';

const identity = Identity.generate();
const hubs: SecureHub[] = [];
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((hub) => hub.close()));
});
const make = (options: unknown): SecureHub => {
  const hub = new SecureHub(new InBrowserHub(), options as never);
  hubs.push(hub);
  return hub;
};

describe('SecureHub options', () => {
  it('fills in the documented defaults', () => {
    const hub = make({ identity });
    expect(hub.options).toMatchObject({
      identity,
      trustOnFirstUse: true,
      acceptKeyChange: false,
      ordered: true,
      replayWindow: 1024,
      rekeyAfterMessages: 65_536,
      rekeyAfterBytes: 64 * 1024 * 1024,
      connectTimeoutMs: 10_000,
    });
    expect(hub.options.keyStore).toBeInstanceOf(MemoryKeyStore);
    expect(hub.fingerprint).toBe(identity.fingerprint);
  });

  it.each([
    ['no options', undefined],
    ['no identity', {}],
    ['an identity that is not one', { identity: { publicKey: new Uint8Array(32) } }],
    ['an unknown key', { identity, orderd: false }],
    ['a key store without set', { identity, keyStore: { get: () => undefined } }],
    ['a replay window too small', { identity, replayWindow: 8 }],
    ['a rekey interval of 0', { identity, rekeyAfterMessages: 0 }],
  ])('throws INVALID_ARGUMENT at construction for %s', (_name, options) => {
    expect(() => new SecureHub(new InBrowserHub(), options as never)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('names the nearest option for a typo', () => {
    expect(() => new SecureHub(new InBrowserHub(), { identity, orderd: false } as never)).toThrow(/ordered/);
  });

  it("carries the inner hub's limit minus a record's overhead", () => {
    const inner = new InBrowserHub();
    const hub = make({ identity });
    expect(hub.maxPayloadSize).toBe(inner.maxPayloadSize - RECORD_OVERHEAD);
    void inner.close();
  });

  it('SecureHub.generateIdentity() makes an Identity', () => {
    expect(SecureHub.generateIdentity()).toBeInstanceOf(Identity);
  });
});
