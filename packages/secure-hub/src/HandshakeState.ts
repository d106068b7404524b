import { TAG_LENGTH, type CipherState } from './CipherState';
import { SymmetricState } from './SymmetricState';
import { forgetPrivateKey, publicKeyOf, randomKeyPair, sharedSecret } from './x25519';

/** The one protocol SecureHub speaks (Noise spec, section 8: pattern XX, DH 25519, cipher ChaChaPoly, hash SHA-256). */
export const PROTOCOL_NAME = 'Noise_XX_25519_ChaChaPoly_SHA256';
/** Bytes of an X25519 public key (DHLEN). */
export const DH_LENGTH = 32;

/** An X25519 key pair. */
export interface KeyPair {
  readonly publicKey: Uint8Array;
  readonly privateKey: Uint8Array;
}

/** A fresh X25519 key pair from the platform's CSPRNG (Node's, or through @noble/curves). */
export function generateKeyPair(): KeyPair {
  return randomKeyPair();
}

/** The key pair of a given X25519 private key. */
export function keyPairFrom(privateKey: Uint8Array): KeyPair {
  // Measured on our own copy: the key object cached for an array (x25519.ts) would go stale if the caller refilled its own.
  const own = privateKey.slice();
  return { privateKey: own, publicKey: publicKeyOf(own) };
}

/** A handshake step failed: a message of the wrong length, a tag that does not verify, or a low-order key. */
export class HandshakeFailure extends Error {}

/** What the handshake produced once its last message was written or read. */
export interface HandshakeResult {
  /** Encrypts this side's transport messages. */
  readonly send: CipherState;
  /** Decrypts the peer's. */
  readonly receive: CipherState;
  /** The peer's static public key, authenticated by the handshake. */
  readonly remoteStatic: Uint8Array;
  /** The handshake hash h: unique to this session, and the same on both sides (a channel binding). */
  readonly handshakeHash: Uint8Array;
}

/**
 * The Noise HandshakeState (Noise spec, section 5.3) for the XX pattern:
 *
 * ```
 * -> e
 * <- e, ee, s, es
 * -> s, se
 * ```
 *
 * Each side writes and reads its messages in turn (`writeMessage`/`readMessage`, which throw HandshakeFailure);
 * after the third message `result` holds the transport CipherStates. `ephemeral` fixes the ephemeral private key
 * (test vectors only: an ephemeral must never be reused).
 */
export class HandshakeState {
  private readonly symmetric = new SymmetricState(PROTOCOL_NAME);
  private readonly s: KeyPair;
  private e: KeyPair | null = null;
  private re: Uint8Array | null = null;
  private rs: Uint8Array | null = null;
  private step = 0;
  private done: HandshakeResult | null = null;

  constructor(
    readonly initiator: boolean,
    prologue: Uint8Array,
    staticKey: KeyPair,
    private readonly fixedEphemeral?: Uint8Array,
  ) {
    this.s = staticKey;
    this.symmetric.mixHash(prologue);
  }

  /** The peer's static key, once a message carrying it was read. */
  get remoteStatic(): Uint8Array | null {
    return this.rs;
  }

  /** True when it is this side's turn to write. */
  get writing(): boolean {
    return this.initiator ? this.step % 2 === 0 : this.step % 2 === 1;
  }

  get finished(): boolean {
    return this.done !== null;
  }

  /** The transport keys, once the handshake finished. */
  get result(): HandshakeResult {
    if (this.done === null) throw new HandshakeFailure('The handshake has not finished.');
    return this.done;
  }

  /** Writes the next message of this side, carrying `payload` (encrypted from the second message on). */
  writeMessage(payload: Uint8Array = new Uint8Array(0)): Uint8Array {
    if (!this.writing || this.done) throw new HandshakeFailure(`Not this side's turn to write (message ${this.step + 1}).`);
    const parts: Uint8Array[] = [];
    const sym = this.symmetric;
    if (this.step === 0 || this.step === 1) {
      // e (and for the responder: ee, s, es)
      this.e = this.fixedEphemeral ? keyPairFrom(this.fixedEphemeral) : generateKeyPair();
      parts.push(this.e.publicKey);
      sym.mixHash(this.e.publicKey);
      if (this.step === 1) {
        sym.mixKey(dh(this.e.privateKey, this.re!));
        parts.push(sym.encryptAndHash(this.s.publicKey));
        sym.mixKey(dh(this.s.privateKey, this.re!));
      }
    } else {
      // s, se (initiator)
      parts.push(sym.encryptAndHash(this.s.publicKey));
      sym.mixKey(dh(this.s.privateKey, this.re!));
    }
    parts.push(sym.encryptAndHash(payload));
    this.advance();
    return concat(parts);
  }

  /** Reads the peer's next message; returns its payload. Throws HandshakeFailure when it does not verify. */
  readMessage(message: Uint8Array): Uint8Array {
    if (this.writing || this.done) throw new HandshakeFailure(`Not this side's turn to read (message ${this.step + 1}).`);
    const sym = this.symmetric;
    let at = 0;
    const take = (n: number): Uint8Array => {
      if (message.length < at + n) throw new HandshakeFailure(`Handshake message ${this.step + 1} is too short.`);
      const part = message.subarray(at, at + n);
      at += n;
      return part;
    };
    const decrypt = (ciphertext: Uint8Array): Uint8Array => {
      const plaintext = sym.decryptAndHash(ciphertext);
      if (plaintext === null) throw new HandshakeFailure(`Handshake message ${this.step + 1} does not authenticate.`);
      return plaintext;
    };
    if (this.step === 0 || this.step === 1) {
      this.re = take(DH_LENGTH).slice();
      sym.mixHash(this.re);
      if (this.step === 1) {
        sym.mixKey(dh(this.e!.privateKey, this.re));
        this.rs = decrypt(take(DH_LENGTH + TAG_LENGTH)).slice();
        sym.mixKey(dh(this.e!.privateKey, this.rs));
      }
    } else {
      this.rs = decrypt(take(DH_LENGTH + TAG_LENGTH)).slice();
      sym.mixKey(dh(this.e!.privateKey, this.rs));
    }
    const payload = decrypt(message.subarray(at)).slice();
    this.advance();
    return payload;
  }

  private advance(): void {
    this.step++;
    if (this.step < 3) return;
    const handshakeHash = this.symmetric.handshakeHash;
    const [c1, c2] = this.symmetric.split();
    if (this.e) {
      forgetPrivateKey(this.e.privateKey);
      this.e.privateKey.fill(0);
    }
    this.done = {
      send: this.initiator ? c1 : c2,
      receive: this.initiator ? c2 : c1,
      remoteStatic: this.rs!,
      handshakeHash,
    };
  }
}

/** DH(private, public) with X25519 (@noble/curves); a low-order public key (an all-zero secret) fails the handshake. */
function dh(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  try {
    return sharedSecret(privateKey, publicKey);
  } catch (cause) {
    throw new HandshakeFailure(`X25519 refused the peer's key: ${String(cause)}`);
  }
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
