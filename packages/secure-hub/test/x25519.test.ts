// Node's X25519 and @noble/curves' must be the same function: a Node peer handshakes with a browser peer.
import { describe, expect, it } from '@jest/globals';
import { x25519 } from '@noble/curves/ed25519';
import { forgetPrivateKey, publicKeyOf, randomKeyPair, randomPrivateKey, sharedSecret } from '../src/x25519';

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));

describe('X25519', () => {
  it('matches RFC 7748, section 6.1', () => {
    const alice = hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
    const bob = hex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb');
    expect(Buffer.from(publicKeyOf(alice)).toString('hex')).toBe('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
    expect(Buffer.from(sharedSecret(alice, publicKeyOf(bob))).toString('hex')).toBe('4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742');
  });

  it('agrees with @noble/curves on random keys, both ways', () => {
    for (let i = 0; i < 20; i++) {
      const [a, b] = [randomPrivateKey(), randomPrivateKey()];
      expect(publicKeyOf(a)).toEqual(x25519.getPublicKey(a));
      expect(sharedSecret(a, x25519.getPublicKey(b))).toEqual(x25519.getSharedSecret(b, publicKeyOf(a)));
    }
  });

  it('generates pairs that are pairs, and reads a key forgotten and rewritten anew', () => {
    for (let i = 0; i < 10; i++) {
      const { privateKey, publicKey } = randomKeyPair();
      expect(publicKey).toEqual(x25519.getPublicKey(privateKey));
      expect(publicKeyOf(privateKey)).toEqual(publicKey);
      const peer = randomPrivateKey();
      expect(sharedSecret(privateKey, x25519.getPublicKey(peer))).toEqual(x25519.getSharedSecret(peer, publicKey));
    }
    // The key object kept for an array goes with forgetPrivateKey: the array's new bytes are a new key.
    const { privateKey } = randomKeyPair();
    const other = randomPrivateKey();
    forgetPrivateKey(privateKey);
    privateKey.set(other);
    expect(publicKeyOf(privateKey)).toEqual(x25519.getPublicKey(other));
  });

  it('refuses a low-order public key (the result would be all zeros)', () => {
    expect(() => sharedSecret(randomPrivateKey(), new Uint8Array(32))).toThrow();
    expect(() => sharedSecret(randomPrivateKey(), new Uint8Array(31))).toThrow();
  });
});
