// Node's ChaCha20-Poly1305 and @noble/ciphers' must be the same function: a Node peer talks to a browser peer.
import { describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { nativeOpen, nativeSeal, nobleOpen, nobleSeal, open, seal, type Open, type Seal } from '../src/aead';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

// RFC 8439, section 2.8.2.
const KEY = hex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f');
const NONCE = hex('070000004041424344454647');
const AD = hex('50515253c0c1c2c3c4c5c6c7');
const PLAINTEXT = new TextEncoder().encode(
  "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
);
const EXPECTED_TAG = hex('1ae10b594f09e26a7e902ecbd0600691');

describe('ChaCha20-Poly1305', () => {
  it('runs on Node\'s own implementation here', () => {
    expect(nativeSeal).not.toBeNull();
    expect(seal).toBe(nativeSeal);
    expect(open).toBe(nativeOpen);
  });

  const pairs: Array<[string, Seal, Open]> = [
    ['noble → noble', nobleSeal, nobleOpen],
    ['node → noble', nativeSeal!, nobleOpen],
    ['noble → node', nobleSeal, nativeOpen!],
    ['node → node', nativeSeal!, nativeOpen!],
  ];

  it.each(pairs)('%s: the RFC 8439 vector, random messages, and a changed byte refused', (_name, sealWith, openWith) => {
    const sealed = sealWith(KEY, NONCE, AD, PLAINTEXT);
    expect(Buffer.from(sealed.subarray(sealed.length - 16))).toEqual(Buffer.from(EXPECTED_TAG));
    expect(openWith(KEY, NONCE, AD, sealed)).toEqual(PLAINTEXT);
    for (const length of [0, 1, 100, 65_536]) {
      const key = new Uint8Array(randomBytes(32));
      const nonce = new Uint8Array(randomBytes(12));
      const message = new Uint8Array(randomBytes(length));
      const ciphertext = sealWith(key, nonce, AD, message);
      expect(ciphertext.length).toBe(length + 16);
      expect(openWith(key, nonce, AD, ciphertext)).toEqual(message);
      const changed = ciphertext.slice();
      changed[Math.floor(changed.length / 2)] ^= 1;
      expect(() => openWith(key, nonce, AD, changed)).toThrow();
      expect(() => openWith(key, nonce, new Uint8Array([1]), ciphertext)).toThrow();
    }
  });
});
