import { createCipheriv } from 'node:crypto';
import { CipherState, MAX_NONCE, nonceBytes } from '../src/CipherState';

const key = Uint8Array.from({ length: 32 }, (_, i) => i);

/** ChaCha20-Poly1305 by Node's OpenSSL: an implementation independent of @noble/ciphers, to check against. */
function opensslSeal(k: Uint8Array, nonce: Uint8Array, ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const cipher = createCipheriv('chacha20-poly1305', k, nonce, { authTagLength: 16 });
  cipher.setAAD(ad, { plaintextLength: plaintext.length });
  return new Uint8Array(Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]));
}

describe('CipherState', () => {
  it('encodes the nonce as Noise does: 4 zero bytes, then n as 64-bit little-endian', () => {
    expect([...nonceBytes(1n)]).toEqual([0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
    expect([...nonceBytes(0x0102030405060708n)]).toEqual([0, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1]);
    expect([...nonceBytes(MAX_NONCE)]).toEqual([0, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255]);
  });

  it('EncryptWithAd matches OpenSSL ChaCha20-Poly1305 with the Noise nonce, and n grows by one', () => {
    const cs = new CipherState();
    cs.initializeKey(key);
    const ad = new TextEncoder().encode('ad');
    const first = cs.encryptWithAd(ad, new TextEncoder().encode('hello'));
    const second = cs.encryptWithAd(ad, new TextEncoder().encode('hello'));
    expect(first).toEqual(opensslSeal(key, nonceBytes(0n), ad, new TextEncoder().encode('hello')));
    expect(second).toEqual(opensslSeal(key, nonceBytes(1n), ad, new TextEncoder().encode('hello')));
    expect(cs.nonce).toBe(2n);
  });

  it('DecryptWithAd returns null for a changed ciphertext or ad, and leaves n as it was', () => {
    const sender = new CipherState();
    const receiver = new CipherState();
    sender.initializeKey(key);
    receiver.initializeKey(key);
    const sealed = sender.encryptWithAd(Uint8Array.of(1), Uint8Array.of(9, 9, 9));
    const changed = sealed.slice();
    changed[0]! ^= 1;
    expect(receiver.decryptWithAd(Uint8Array.of(1), changed)).toBeNull();
    expect(receiver.decryptWithAd(Uint8Array.of(2), sealed)).toBeNull();
    expect(receiver.nonce).toBe(0n);
    expect(receiver.decryptWithAd(Uint8Array.of(1), sealed)).toEqual(Uint8Array.of(9, 9, 9));
    expect(receiver.nonce).toBe(1n);
  });

  it('Rekey sets k to the first 32 bytes of ENCRYPT(k, 2^64-1, empty, 32 zeros), and keeps n', () => {
    const cs = new CipherState();
    cs.initializeKey(key);
    cs.encryptWithAd(new Uint8Array(0), new Uint8Array(1));
    cs.rekey();
    expect(cs.nonce).toBe(1n);
    const expectedKey = opensslSeal(key, nonceBytes(MAX_NONCE), new Uint8Array(0), new Uint8Array(32)).slice(0, 32);
    const check = new CipherState();
    check.initializeKey(expectedKey);
    check.setNonce(1n);
    expect(cs.encryptWithAd(new Uint8Array(0), Uint8Array.of(5))).toEqual(check.encryptWithAd(new Uint8Array(0), Uint8Array.of(5)));
  });

  it('without a key passes plaintext through, as the spec says', () => {
    const cs = new CipherState();
    expect(cs.hasKey()).toBe(false);
    expect(cs.encryptWithAd(new Uint8Array(0), Uint8Array.of(1, 2))).toEqual(Uint8Array.of(1, 2));
  });
});
