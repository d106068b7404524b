import { hkdf } from '@noble/hashes/hkdf';
import { sha256 } from '@noble/hashes/sha2';
import { CipherState, KEY_LENGTH } from './CipherState';

/** HASHLEN of SHA-256. */
export const HASH_LENGTH = 32;

/**
 * The Noise SymmetricState (Noise spec, section 5.2): the chaining key `ck`, the handshake hash `h` and a
 * CipherState. HKDF is @noble/hashes' RFC 5869 HKDF-SHA-256 with `ck` as salt and no info, which is exactly the
 * Noise HKDF (section 4.3: temp_key = HMAC(ck, ikm); output1 = HMAC(temp_key, 0x01); output2 = HMAC(temp_key, output1 ‖ 0x02)).
 */
export class SymmetricState {
  readonly cipher = new CipherState();
  private ck: Uint8Array;
  private h: Uint8Array;

  /** InitializeSymmetric(protocolName). */
  constructor(protocolName: string) {
    const name = new TextEncoder().encode(protocolName);
    if (name.length <= HASH_LENGTH) {
      this.h = new Uint8Array(HASH_LENGTH);
      this.h.set(name);
    } else {
      this.h = sha256(name);
    }
    this.ck = this.h.slice();
  }

  /** The handshake hash so far (after the handshake: the session's channel binding). */
  get handshakeHash(): Uint8Array {
    return this.h.slice();
  }

  /** MixKey(input_key_material). */
  mixKey(ikm: Uint8Array): void {
    const out = hkdf(sha256, ikm, this.ck, undefined, 2 * HASH_LENGTH);
    this.ck = out.slice(0, HASH_LENGTH);
    this.cipher.initializeKey(out.slice(HASH_LENGTH, HASH_LENGTH + KEY_LENGTH));
  }

  /** MixHash(data): h = HASH(h ‖ data). */
  mixHash(data: Uint8Array): void {
    const joined = new Uint8Array(this.h.length + data.length);
    joined.set(this.h);
    joined.set(data, this.h.length);
    this.h = sha256(joined);
  }

  /** EncryptAndHash(plaintext). */
  encryptAndHash(plaintext: Uint8Array): Uint8Array {
    const ciphertext = this.cipher.encryptWithAd(this.h, plaintext);
    this.mixHash(ciphertext);
    return ciphertext;
  }

  /** DecryptAndHash(ciphertext): null when authentication fails. */
  decryptAndHash(ciphertext: Uint8Array): Uint8Array | null {
    const plaintext = this.cipher.decryptWithAd(this.h, ciphertext);
    if (plaintext === null) return null;
    this.mixHash(ciphertext);
    return plaintext;
  }

  /** Split(): the two CipherStates of the transport phase, initiator-to-responder first. */
  split(): [CipherState, CipherState] {
    const out = hkdf(sha256, new Uint8Array(0), this.ck, undefined, 2 * HASH_LENGTH);
    const c1 = new CipherState();
    const c2 = new CipherState();
    c1.initializeKey(out.slice(0, KEY_LENGTH));
    c2.initializeKey(out.slice(HASH_LENGTH, HASH_LENGTH + KEY_LENGTH));
    this.ck.fill(0);
    this.cipher.clear();
    return [c1, c2];
  }
}
