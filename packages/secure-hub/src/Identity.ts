import { sha256 } from '@noble/hashes/sha2';
import { VnfError } from '@vnf/core';
import { DH_LENGTH, generateKeyPair, keyPairFrom, type KeyPair } from './HandshakeState';

/** What `Identity.export()` returns and `Identity.import()` takes: JSON-safe, the private key included. */
export interface ExportedIdentity {
  readonly type: 'vnf-secure-hub-identity';
  readonly version: 1;
  /** The X25519 private key, base64url without padding. Keep it secret: whoever holds it is this identity. */
  readonly privateKey: string;
  /** The X25519 public key, base64url without padding (checked against the private key on import). */
  readonly publicKey: string;
}

const FINGERPRINT_DOMAIN = new TextEncoder().encode('vnf-secure-hub fingerprint v1\0');
/** Bytes of the hash a fingerprint shows: 160 bits, 32 base32 characters in 8 groups of 4. */
const FINGERPRINT_BYTES = 20;
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/**
 * A long-term identity: an X25519 key pair that is also the Noise static key (see the README, "Why the static key
 * is the identity"). Create one per user or device with `Identity.generate()`, store `identity.export()` where the
 * app keeps secrets, and bring it back with `Identity.import(saved)`.
 */
export class Identity {
  private readonly keys: KeyPair;

  private constructor(keys: KeyPair) {
    this.keys = keys;
  }

  /** A new identity from the platform's cryptographically secure random source. */
  static generate(): Identity {
    return new Identity(generateKeyPair());
  }

  /** The identity of a 32-byte X25519 private key (as `exportPrivateKey()` returns). */
  static fromPrivateKey(privateKey: Uint8Array): Identity {
    if (!(privateKey instanceof Uint8Array) || privateKey.length !== DH_LENGTH) {
      throw new VnfError('INVALID_ARGUMENT', `An identity's private key is ${DH_LENGTH} bytes (a Uint8Array); got ${describe(privateKey)}.`);
    }
    return new Identity(keyPairFrom(privateKey));
  }

  /** The identity `export()` wrote (the object, or its JSON text). Throws INVALID_ARGUMENT for anything else. */
  static import(saved: ExportedIdentity | string): Identity {
    let value: unknown = saved;
    if (typeof saved === 'string') {
      try {
        value = JSON.parse(saved);
      } catch {
        throw new VnfError('INVALID_ARGUMENT', 'Identity.import takes what identity.export() returned, or its JSON text; this text is not JSON.');
      }
    }
    const v = value as Partial<ExportedIdentity> | null;
    if (typeof v !== 'object' || v === null || v.type !== 'vnf-secure-hub-identity' || v.version !== 1 || typeof v.privateKey !== 'string') {
      throw new VnfError('INVALID_ARGUMENT', 'Identity.import takes what identity.export() returned: { type: "vnf-secure-hub-identity", version: 1, privateKey, publicKey }.');
    }
    const identity = Identity.fromPrivateKey(fromBase64Url(v.privateKey));
    if (v.publicKey !== undefined && v.publicKey !== toBase64Url(identity.publicKey)) {
      throw new VnfError('INVALID_ARGUMENT', 'This saved identity is damaged: its publicKey does not belong to its privateKey.');
    }
    return identity;
  }

  /** The public key peers pin and see (32 bytes, a copy). */
  get publicKey(): Uint8Array {
    return this.keys.publicKey.slice();
  }

  /** The short, human-comparable fingerprint of the public key: `fingerprint(identity.publicKey)`. */
  get fingerprint(): string {
    return fingerprint(this.keys.publicKey);
  }

  /** The identity as JSON-safe data, the private key included: store it as you store passwords. */
  export(): ExportedIdentity {
    return { type: 'vnf-secure-hub-identity', version: 1, privateKey: toBase64Url(this.keys.privateKey), publicKey: toBase64Url(this.keys.publicKey) };
  }

  /** The 32-byte private key (a copy). */
  exportPrivateKey(): Uint8Array {
    return this.keys.privateKey.slice();
  }

  /** The Noise static key pair (for SecureHub; the private key is not a copy: do not change it). */
  staticKeyPair(): KeyPair {
    return this.keys;
  }

  /** Never the private key: `String(identity)` and logs show the fingerprint only. */
  toString(): string {
    return `Identity(${this.fingerprint})`;
  }

  toJSON(): { fingerprint: string } {
    // JSON.stringify(identity) by accident must not leak the private key: export() is the explicit way.
    return { fingerprint: this.fingerprint };
  }
}

/** True for an Identity (also one from another copy of this package). */
export function isIdentity(value: unknown): value is Identity {
  return value instanceof Identity || (typeof value === 'object' && value !== null && typeof (value as Identity).staticKeyPair === 'function' && typeof (value as Identity).export === 'function');
}

/**
 * The fingerprint of a public key: the first 160 bits of SHA-256("vnf-secure-hub fingerprint v1\0" ‖ key), in
 * base32 (RFC 4648 letters), as 8 groups of 4 characters: `MFRG GZDF MZTW Q2LK NNWG 23TP OBYX E43U`. Two people
 * compare it read aloud or side by side; equal fingerprints mean equal keys.
 */
export function fingerprint(publicKey: Uint8Array): string {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== DH_LENGTH) {
    throw new VnfError('INVALID_ARGUMENT', `fingerprint takes a ${DH_LENGTH}-byte public key; got ${describe(publicKey)}.`);
  }
  const input = new Uint8Array(FINGERPRINT_DOMAIN.length + publicKey.length);
  input.set(FINGERPRINT_DOMAIN);
  input.set(publicKey, FINGERPRINT_DOMAIN.length);
  const text = base32(sha256(input).subarray(0, FINGERPRINT_BYTES));
  return text.match(/.{4}/g)!.join(' ');
}

function base32(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32[(buffer << (5 - bits)) & 31];
  return out;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Base64url without padding (no Buffer, no btoa: the same in browsers and Node). */
export function toBase64Url(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const chars = Math.min(4, Math.ceil(((bytes.length - i) * 8) / 6));
    for (let c = 0; c < chars; c++) out += B64[(n >>> (18 - 6 * c)) & 63];
  }
  return out;
}

export function fromBase64Url(text: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) throw new VnfError('INVALID_ARGUMENT', 'A key must be base64url text (A–Z, a–z, 0–9, - and _, no padding).');
  const out = new Uint8Array(Math.floor((text.length * 6) / 8));
  let buffer = 0;
  let bits = 0;
  let at = 0;
  for (const ch of text) {
    buffer = (buffer << 6) | B64.indexOf(ch);
    bits += 6;
    if (bits >= 8) {
      out[at++] = (buffer >>> (bits - 8)) & 255;
      bits -= 8;
      buffer &= (1 << bits) - 1;
    }
  }
  return out;
}

function describe(value: unknown): string {
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  return value === null ? 'null' : typeof value;
}
