import { hmac } from '@noble/hashes/hmac';
import { sha256 } from '@noble/hashes/sha256';
import { fromHex, toHex } from './frames';

/** An incremental SHA-256: `update` with each chunk in order, `digest` once. */
export interface IncrementalHash {
  update(bytes: Uint8Array): void;
  /** The hash of everything updated, as 64 lowercase hex digits. */
  digest(): string;
}

interface NodeHash {
  update(bytes: Uint8Array): unknown;
  digest(encoding: 'hex'): string;
}
interface NodeCrypto {
  createHash(algorithm: 'sha256'): NodeHash;
}

/**
 * Node's own SHA-256 (OpenSSL, about ten times faster than JavaScript here) when the runtime has it, reached through
 * `process.getBuiltinModule` so that no bundler sees an import of a Node module; elsewhere @noble/hashes (audited,
 * incremental; WebCrypto's digest takes the whole input at once).
 */
function nodeCrypto(): NodeCrypto | null {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  try {
    const crypto = proc?.getBuiltinModule?.('node:crypto') as NodeCrypto | undefined;
    return crypto && typeof crypto.createHash === 'function' ? crypto : null;
  } catch {
    return null;
  }
}

const native = nodeCrypto();

export function createSha256(): IncrementalHash {
  if (native) {
    const h = native.createHash('sha256');
    return { update: (bytes) => void h.update(bytes), digest: () => h.digest('hex') };
  }
  const h = sha256.create();
  return { update: (bytes) => void h.update(bytes), digest: () => toHex(h.digest()) };
}

const encoder = new TextEncoder();

/** HMAC-SHA-256 of the parts (joined by "|") under a hex key, as hex: a resume's proof of the transfer's secret. */
export function proof(secretHex: string, ...parts: (string | number)[]): string {
  return toHex(hmac(sha256, fromHex(secretHex), encoder.encode(parts.join('|'))));
}

/** Compares two proofs without an early exit on the first difference. */
export function sameProof(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** `n` random bytes from the platform's CSPRNG (WebCrypto, in browsers and Node). */
export function randomBytes(n: number): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(n));
}
