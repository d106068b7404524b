import { x25519 } from '@noble/curves/ed25519';

interface NodeKeyObject {
  export(options: { format: 'jwk' }): { d?: string; x: string };
}
interface NodeCrypto {
  createPrivateKey(options: { key: Uint8Array; format: 'der'; type: 'pkcs8' }): NodeKeyObject;
  createPublicKey(options: NodeKeyObject | { key: { kty: 'OKP'; crv: 'X25519'; x: string }; format: 'jwk' }): NodeKeyObject;
  diffieHellman(options: { privateKey: NodeKeyObject; publicKey: NodeKeyObject }): Uint8Array;
  generateKeyPairSync(type: 'x25519'): { privateKey: NodeKeyObject; publicKey: NodeKeyObject };
}
interface NodeBuffer {
  from(data: Uint8Array | string, encoding?: 'base64url'): Uint8Array & { toString(encoding: 'base64url'): string };
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
const NodeBuffer = native ? (globalThis as { Buffer?: NodeBuffer }).Buffer : undefined;
// The DER wrapping of a raw X25519 private key (PKCS #8), RFC 8410.
const PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20]);

/**
 * Node's key object of each private key in use, by the array holding it: OpenSSL 3 decodes a PKCS #8 key in about
 * 0.75 ms (ten DHs' worth), and a handshake uses the static key twice and its ephemeral twice. A key generated here
 * gets its object at birth; `forgetPrivateKey` drops it when the array is wiped. So an array given to `publicKeyOf`
 * or `sharedSecret` must keep its bytes until `forgetPrivateKey`: callers pass arrays they own (keyPairFrom copies a
 * caller's key first), never one an application may refill. Public keys are imported as JWK (16 µs; SPKI DER took 180).
 */
const privateKeys = new WeakMap<Uint8Array, NodeKeyObject>();

function privateKeyObject(crypto: NodeCrypto, privateKey: Uint8Array): NodeKeyObject {
  let key = privateKeys.get(privateKey);
  if (key === undefined) {
    key = crypto.createPrivateKey({ key: wrap(PKCS8_PREFIX, privateKey), format: 'der', type: 'pkcs8' });
    privateKeys.set(privateKey, key);
  }
  return key;
}

function publicKeyObject(crypto: NodeCrypto, buffer: NodeBuffer, publicKey: Uint8Array): NodeKeyObject {
  return crypto.createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: buffer.from(publicKey).toString('base64url') }, format: 'jwk' });
}

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

/** A new X25519 key pair from the platform's secure random source (Node's generator where there is one). */
export function randomKeyPair(): { privateKey: Uint8Array; publicKey: Uint8Array } {
  if (!native || !NodeBuffer) {
    const privateKey = randomPrivateKey();
    return { privateKey, publicKey: x25519.getPublicKey(privateKey) };
  }
  const pair = native.generateKeyPairSync('x25519');
  const { d, x } = pair.privateKey.export({ format: 'jwk' });
  const privateKey = new Uint8Array(NodeBuffer.from(d as string, 'base64url'));
  privateKeys.set(privateKey, pair.privateKey);
  return { privateKey, publicKey: new Uint8Array(NodeBuffer.from(x, 'base64url')) };
}

/** Drops what this module keeps of `privateKey` (its key object): call it before wiping the array. */
export function forgetPrivateKey(privateKey: Uint8Array): void {
  privateKeys.delete(privateKey);
}

/** The public key of an X25519 private key. */
export function publicKeyOf(privateKey: Uint8Array): Uint8Array {
  if (!native || !NodeBuffer) return x25519.getPublicKey(privateKey);
  const { x } = native.createPublicKey(privateKeyObject(native, privateKey)).export({ format: 'jwk' });
  return new Uint8Array(NodeBuffer.from(x, 'base64url'));
}

/** X25519(privateKey, publicKey); throws when the peer's key is of low order (the result would be all zeros). */
export function sharedSecret(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  if (!native || !NodeBuffer) return x25519.getSharedSecret(privateKey, publicKey);
  if (publicKey.length !== 32) throw new Error(`an X25519 public key has 32 bytes; got ${publicKey.length}`);
  const secret = new Uint8Array(
    native.diffieHellman({ privateKey: privateKeyObject(native, privateKey), publicKey: publicKeyObject(native, NodeBuffer, publicKey) }),
  );
  let bits = 0;
  for (const byte of secret) bits |= byte;
  if (bits === 0) throw new Error('the peer\'s X25519 key is of low order');
  return secret;
}
