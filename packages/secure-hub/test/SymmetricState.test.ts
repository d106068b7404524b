import { createHash, createHmac } from 'node:crypto';
import { SymmetricState } from '../src/SymmetricState';
import { PROTOCOL_NAME } from '../src/HandshakeState';

const hmac = (key: Uint8Array, data: Uint8Array): Uint8Array => new Uint8Array(createHmac('sha256', key).update(data).digest());

describe('SymmetricState', () => {
  it('starts with h = the protocol name (32 bytes, so not hashed) and ck = h', () => {
    const state = new SymmetricState(PROTOCOL_NAME);
    expect(PROTOCOL_NAME.length).toBe(32);
    expect(new TextDecoder().decode(state.handshakeHash)).toBe(PROTOCOL_NAME);
  });

  it('MixHash is h = SHA-256(h ‖ data)', () => {
    const state = new SymmetricState(PROTOCOL_NAME);
    state.mixHash(Uint8Array.of(1, 2, 3));
    const expected = createHash('sha256').update(Buffer.from(PROTOCOL_NAME)).update(Uint8Array.of(1, 2, 3)).digest();
    expect(state.handshakeHash).toEqual(new Uint8Array(expected));
  });

  it("MixKey and Split follow the Noise HKDF (temp = HMAC(ck, ikm); o1 = HMAC(temp, 1); o2 = HMAC(temp, o1 ‖ 2)), built here from Node's HMAC", () => {
    const state = new SymmetricState(PROTOCOL_NAME);
    const ikm = Uint8Array.from({ length: 32 }, (_, i) => 255 - i);
    state.mixKey(ikm);
    const ck0 = new TextEncoder().encode(PROTOCOL_NAME);
    const temp = hmac(ck0, ikm);
    const ck1 = hmac(temp, Uint8Array.of(1));
    const k = hmac(temp, Uint8Array.of(...ck1, 2));
    // The key in the CipherState is k: encrypting with it equals encrypting with a CipherState keyed by k.
    const ours = state.cipher.encryptWithAd(new Uint8Array(0), Uint8Array.of(7));
    const reference = new SymmetricState(PROTOCOL_NAME);
    reference.cipher.initializeKey(k);
    expect(ours).toEqual(reference.cipher.encryptWithAd(new Uint8Array(0), Uint8Array.of(7)));
    // Split derives from ck1 with empty ikm.
    const [c1, c2] = state.split();
    const temp2 = hmac(ck1, new Uint8Array(0));
    const k1 = hmac(temp2, Uint8Array.of(1));
    const k2 = hmac(temp2, Uint8Array.of(...k1, 2));
    const r1 = new SymmetricState(PROTOCOL_NAME).cipher;
    const r2 = new SymmetricState(PROTOCOL_NAME).cipher;
    r1.initializeKey(k1);
    r2.initializeKey(k2);
    expect(c1.encryptWithAd(new Uint8Array(0), Uint8Array.of(1))).toEqual(r1.encryptWithAd(new Uint8Array(0), Uint8Array.of(1)));
    expect(c2.encryptWithAd(new Uint8Array(0), Uint8Array.of(1))).toEqual(r2.encryptWithAd(new Uint8Array(0), Uint8Array.of(1)));
  });
});
