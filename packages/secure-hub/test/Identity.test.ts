import { x25519 } from '@noble/curves/ed25519';
import { Identity, fingerprint } from '../src';
import { fromBase64Url, toBase64Url } from '../src/Identity';

describe('Identity', () => {
  it('generates distinct X25519 key pairs whose public key matches the private one', () => {
    const a = Identity.generate();
    const b = Identity.generate();
    expect(a.publicKey).not.toEqual(b.publicKey);
    expect(x25519.getPublicKey(a.exportPrivateKey())).toEqual(a.publicKey);
  });

  it('round-trips through export() and import(), as an object and as JSON text', () => {
    const a = Identity.generate();
    const saved = a.export();
    expect(saved).toMatchObject({ type: 'vnf-secure-hub-identity', version: 1 });
    expect(Identity.import(saved).publicKey).toEqual(a.publicKey);
    expect(Identity.import(JSON.stringify(saved)).fingerprint).toBe(a.fingerprint);
    expect(Identity.fromPrivateKey(a.exportPrivateKey()).publicKey).toEqual(a.publicKey);
  });

  it('takes a private key from an array the caller refills: each identity gets the public key of the bytes it was given', () => {
    const buffer = new Uint8Array(32);
    const keys = [Identity.generate().exportPrivateKey(), Identity.generate().exportPrivateKey()];
    const identities = keys.map((key) => {
      buffer.set(key);
      return Identity.fromPrivateKey(buffer);
    });
    buffer.fill(0);
    identities.forEach((identity, i) => {
      expect(identity.publicKey).toEqual(x25519.getPublicKey(keys[i]!));
      expect(identity.exportPrivateKey()).toEqual(keys[i]);
    });
  });

  it('refuses damaged or foreign saved identities with INVALID_ARGUMENT', () => {
    const saved = Identity.generate().export();
    const other = Identity.generate().export();
    for (const bad of ['not json', '{}', { ...saved, version: 2 }, { ...saved, publicKey: other.publicKey }, { ...saved, privateKey: 'AAAA' }]) {
      expect(() => Identity.import(bad as never)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
  });

  it('never shows its private key by accident: JSON.stringify and String give the fingerprint only', () => {
    const a = Identity.generate();
    const secret = a.export().privateKey;
    expect(JSON.stringify({ a })).not.toContain(secret);
    expect(String(a)).not.toContain(secret);
    expect(String(a)).toContain(a.fingerprint);
  });
});

describe('fingerprint', () => {
  it('is 8 groups of 4 base32 characters, stable for a key and different for another', () => {
    const key = Uint8Array.from({ length: 32 }, (_, i) => i);
    const text = fingerprint(key);
    expect(text).toMatch(/^([A-Z2-7]{4} ){7}[A-Z2-7]{4}$/);
    expect(fingerprint(key.slice())).toBe(text);
    const other = key.slice();
    other[31] ^= 1;
    expect(fingerprint(other)).not.toBe(text);
  });

  it('refuses what is not a 32-byte key', () => {
    expect(() => fingerprint(new Uint8Array(31))).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});

describe('base64url', () => {
  it('round-trips every length', () => {
    for (let n = 0; n < 40; n++) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 255);
      const text = toBase64Url(bytes);
      expect(text).toBe(Buffer.from(bytes).toString('base64url'));
      expect(fromBase64Url(text)).toEqual(bytes);
    }
  });
});
