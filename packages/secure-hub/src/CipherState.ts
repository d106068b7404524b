import { VnfError } from '@vnf/core';
import { open, seal } from './aead';

/** Bytes of a ChaCha20-Poly1305 key, and of the Noise HASHLEN of SHA-256. */
export const KEY_LENGTH = 32;
/** Bytes of the Poly1305 tag each ciphertext carries. */
export const TAG_LENGTH = 16;
/** Noise reserves nonce 2⁶⁴−1 for REKEY: no message may use it. */
export const MAX_NONCE = 2n ** 64n - 1n;

const EMPTY = new Uint8Array(0);

/**
 * The Noise CipherState (Noise spec, section 5.1) for ChaChaPoly: a key `k` (or none) and a 64-bit nonce `n`. The
 * 96-bit ChaCha20-Poly1305 nonce is 32 bits of zeros followed by `n` little-endian (section 12.3). The cipher is
 * Node's OpenSSL, or @noble/ciphers' audited ChaCha20-Poly1305 elsewhere (aead.ts); nothing here is a primitive of its own.
 */
export class CipherState {
  private k: Uint8Array | null = null;
  private n = 0n;

  /** InitializeKey(key): sets `k` and resets `n` to 0. */
  initializeKey(key: Uint8Array | null): void {
    if (key !== null && key.length !== KEY_LENGTH) throw new VnfError('INTERNAL', `A Noise key has ${KEY_LENGTH} bytes; got ${key.length}.`);
    this.k = key === null ? null : key.slice();
    this.n = 0n;
  }

  hasKey(): boolean {
    return this.k !== null;
  }

  /** The nonce the next EncryptWithAd or DecryptWithAd uses. */
  get nonce(): bigint {
    return this.n;
  }

  /** SetNonce(nonce): for a receiver that reads the nonce from an explicit record header. */
  setNonce(nonce: bigint): void {
    this.n = nonce;
  }

  /** EncryptWithAd(ad, plaintext): with a key, the ciphertext and tag, and `n` grows by one; without, the plaintext. */
  encryptWithAd(ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    if (this.k === null) return plaintext;
    if (this.n >= MAX_NONCE) throw new VnfError('INTERNAL', 'The Noise nonce is used up: the session must end.');
    const out = seal(this.k, nonceBytes(this.n), ad, plaintext);
    this.n++;
    return out;
  }

  /**
   * DecryptWithAd(ad, ciphertext): the plaintext, `n` growing by one; null when authentication fails (the spec's
   * error: `n` then stays as it was).
   */
  decryptWithAd(ad: Uint8Array, ciphertext: Uint8Array): Uint8Array | null {
    if (this.k === null) return ciphertext;
    if (this.n >= MAX_NONCE || ciphertext.length < TAG_LENGTH) return null;
    let plaintext: Uint8Array;
    try {
      plaintext = open(this.k, nonceBytes(this.n), ad, ciphertext);
    } catch {
      return null;
    }
    this.n++;
    return plaintext;
  }

  /** Rekey(): k = the first 32 bytes of ENCRYPT(k, 2⁶⁴−1, empty, 32 zero bytes) (Noise spec, sections 4.2 and 11.3). */
  rekey(): void {
    if (this.k === null) return;
    const next = seal(this.k, nonceBytes(MAX_NONCE), EMPTY, new Uint8Array(KEY_LENGTH));
    this.k.fill(0);
    this.k = next.slice(0, KEY_LENGTH);
  }

  /** A copy of this state, for a receiver that keeps the previous key while records of it may still arrive. */
  clone(): CipherState {
    const copy = new CipherState();
    copy.k = this.k === null ? null : this.k.slice();
    copy.n = this.n;
    return copy;
  }

  /** Wipes the key. */
  clear(): void {
    this.k?.fill(0);
    this.k = null;
  }
}

/** The ChaChaPoly nonce of Noise: 4 zero bytes, then `n` as a 64-bit little-endian integer. */
export function nonceBytes(n: bigint): Uint8Array {
  const bytes = new Uint8Array(12);
  new DataView(bytes.buffer).setBigUint64(4, n, true);
  return bytes;
}
