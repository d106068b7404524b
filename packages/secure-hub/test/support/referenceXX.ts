// A second, independent Noise_XX_25519_ChaChaPoly_SHA256, written from the Noise spec (revision 34) on Node's
// OpenSSL (X25519, ChaCha20-Poly1305, HMAC-SHA-256) instead of noble: for tests only, to check that
// src/HandshakeState.ts produces byte for byte what another reading of the spec does.
import { createCipheriv, createHash, createHmac, createPrivateKey, createPublicKey, diffieHellman } from 'node:crypto';

const PKCS8 = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI = Buffer.from('302a300506032b656e032100', 'hex');

const priv = (raw: Uint8Array) => createPrivateKey({ key: Buffer.concat([PKCS8, raw]), format: 'der', type: 'pkcs8' });
const pub = (raw: Uint8Array) => createPublicKey({ key: Buffer.concat([SPKI, raw]), format: 'der', type: 'spki' });
export const publicOf = (raw: Uint8Array): Buffer => createPublicKey(priv(raw)).export({ format: 'der', type: 'spki' }).subarray(-32) as Buffer;
const dh = (sk: Uint8Array, pk: Uint8Array): Buffer => diffieHellman({ privateKey: priv(sk), publicKey: pub(pk) });
const hmac = (k: Uint8Array, d: Uint8Array): Buffer => createHmac('sha256', k).update(d).digest();
const nonce = (n: number): Buffer => {
  const b = Buffer.alloc(12);
  b.writeBigUInt64LE(BigInt(n), 4);
  return b;
};

function seal(k: Buffer, n: number, ad: Buffer, pt: Uint8Array): Buffer {
  const c = createCipheriv('chacha20-poly1305', k, nonce(n), { authTagLength: 16 });
  c.setAAD(ad, { plaintextLength: pt.length });
  return Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]);
}

/** The three XX messages with the given keys and payloads, and the final handshake hash. */
export function referenceXX(input: {
  prologue: Uint8Array;
  initiatorStatic: Uint8Array;
  initiatorEphemeral: Uint8Array;
  responderStatic: Uint8Array;
  responderEphemeral: Uint8Array;
  payloads: [Uint8Array, Uint8Array, Uint8Array];
}): { messages: Buffer[]; handshakeHash: Buffer } {
  let h: Buffer = Buffer.alloc(32);
  Buffer.from('Noise_XX_25519_ChaChaPoly_SHA256').copy(h);
  let ck: Buffer = Buffer.from(h);
  let k: Buffer | null = null;
  let n = 0;
  const mixHash = (d: Uint8Array) => (h = createHash('sha256').update(h).update(d).digest());
  const mixKey = (ikm: Uint8Array) => {
    const temp = hmac(ck, ikm);
    ck = hmac(temp, Buffer.from([1]));
    k = hmac(temp, Buffer.concat([ck, Buffer.from([2])]));
    n = 0;
  };
  const encryptAndHash = (pt: Uint8Array) => {
    const ct = k === null ? Buffer.from(pt) : seal(k, n++, h, pt);
    mixHash(ct);
    return ct;
  };
  mixHash(input.prologue);
  const ie = publicOf(input.initiatorEphemeral);
  const re = publicOf(input.responderEphemeral);
  const is = publicOf(input.initiatorStatic);
  const rs = publicOf(input.responderStatic);
  // -> e
  mixHash(ie);
  const m1 = Buffer.concat([ie, encryptAndHash(input.payloads[0])]);
  // <- e, ee, s, es
  mixHash(re);
  mixKey(dh(input.responderEphemeral, ie));
  const encRs = encryptAndHash(rs);
  mixKey(dh(input.responderStatic, ie));
  const m2 = Buffer.concat([re, encRs, encryptAndHash(input.payloads[1])]);
  // -> s, se
  const encIs = encryptAndHash(is);
  mixKey(dh(input.initiatorStatic, re));
  const m3 = Buffer.concat([encIs, encryptAndHash(input.payloads[2])]);
  return { messages: [m1, m2, m3], handshakeHash: h };
}
