import { x25519 } from '@noble/curves/ed25519';

interface NodeKeyObject {
  export(options: { format: 'der'; type: 'spki' }): Uint8Array;
}
interface NodeCrypto {
  createPrivateKey(options: { key: Uint8Array; format: 'der'; type: 'pkcs8' }): NodeKeyObject;
  createPublicKey(options: NodeKeyObject | { key: Uint8Array; format: 'der'; type: 'spki' }): NodeKeyObject;
  diffieHellman(options: { privateKey: NodeKeyObject; publicKey: NodeKeyObject }): Uint8Array;
}

/**
 * Node's own X25519 (OpenSSL: a handshake's four scalar multiplications in well under a millisecond, against several
 * with JavaScript — a room of 100 members makes 4 950 handshakes) when the runtime has it, reached through
 * `process.getBuiltinModule` so that no bundler sees a Node import; elsewhere @noble/curves (audited). Both are
 * RFC 7748 (the scalar clamped the same way), so either side may be either.
 */
function nodeCrypto(): NodeCrypto | null {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  try {
    const crypto = proc?.getBuiltinModule?.('node:crypto') as NodeCrypto | undefined;
    return crypto && typeof crypto.diffieHellman === 'function' && typeof crypto.createPrivateKey === 'function' ? crypto : null;
  } catch {
    return null;
  }
}

const native = nodeCrypto();
// The DER wrappings of a raw X25519 private key (PKCS #8) and public key (SPKI), RFC 8410.
const PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20]);
const SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00]);

function wrap(prefix: Uint8Array, key: Uint8Array): Uint8Array {
  const out = new Uint8Array(prefix.length + key.length);
  out.set(prefix);
  out.set(key, prefix.length);
  return out;
}

/** A new X25519 private key from the platform's secure random source. */
export function randomPrivateKey(): Uint8Array {
  return x25519.utils.randomPrivateKey();
}

/** The public key of an X25519 private key. */
export function publicKeyOf(privateKey: Uint8Array): Uint8Array {
  if (!native) return x25519.getPublicKey(privateKey);
  const der = native.createPublicKey(native.createPrivateKey({ key: wrap(PKCS8_PREFIX, privateKey), format: 'der', type: 'pkcs8' })).export({ format: 'der', type: 'spki' });
  return new Uint8Array(der.subarray(der.length - 32));
}

/** X25519(privateKey, publicKey); throws when the peer's key is of low order (the result would be all zeros). */
export function sharedSecret(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  if (!native) return x25519.getSharedSecret(privateKey, publicKey);
  if (publicKey.length !== 32) throw new Error(`an X25519 public key has 32 bytes; got ${publicKey.length}`);
  const secret = new Uint8Array(
    native.diffieHellman({
      privateKey: native.createPrivateKey({ key: wrap(PKCS8_PREFIX, privateKey), format: 'der', type: 'pkcs8' }),
      publicKey: native.createPublicKey({ key: wrap(SPKI_PREFIX, publicKey), format: 'der', type: 'spki' }),
    }),
  );
  let bits = 0;
  for (const byte of secret) bits |= byte;
  if (bits === 0) throw new Error('the peer\'s X25519 key is of low order');
  return secret;
}
