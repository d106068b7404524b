// Node's Ed25519 and @noble/curves' must agree: a Node sender's group records are checked in browsers, and back.
import { describe, expect, it } from '@jest/globals';
import { ed25519 } from '@noble/curves/ed25519';
import { generateSigningKey, verifierOf } from '../src/signing';

describe('Ed25519 signing', () => {
  it('signs what @noble/curves verifies, and verifies what it signs', () => {
    for (let i = 0; i < 10; i++) {
      const { sign, verifyKey } = generateSigningKey();
      const message = Uint8Array.of(i, 1, 2, 3);
      const signature = sign(message);
      expect(ed25519.verify(signature, message, verifyKey, { zip215: false })).toBe(true);
      expect(verifierOf(verifyKey)(message, signature)).toBe(true);
      const seed = ed25519.utils.randomPrivateKey();
      expect(verifierOf(ed25519.getPublicKey(seed))(message, ed25519.sign(message, seed))).toBe(true);
    }
  });

  it('refuses a signature of another message, by another key, or under a key of the wrong length', () => {
    const { sign, verifyKey } = generateSigningKey();
    const signature = sign(Uint8Array.of(1));
    expect(verifierOf(verifyKey)(Uint8Array.of(2), signature)).toBe(false);
    expect(verifierOf(generateSigningKey().verifyKey)(Uint8Array.of(1), signature)).toBe(false);
    expect(verifierOf(verifyKey.subarray(0, 31))(Uint8Array.of(1), signature)).toBe(false);
    expect(verifierOf(verifyKey)(Uint8Array.of(1), signature.subarray(0, 63))).toBe(false);
  });
});
