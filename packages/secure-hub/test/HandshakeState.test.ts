import { x25519 } from '@noble/curves/ed25519';
import { HandshakeFailure, HandshakeState, keyPairFrom } from '../src/HandshakeState';
import { referenceXX } from './support/referenceXX';

// Fixed keys: the handshake is then deterministic (no official Noise vectors are bundled here: see the README).
const key = (seed: number): Uint8Array => Uint8Array.from({ length: 32 }, (_, i) => (seed * 31 + i * 7) & 255);
const prologue = new TextEncoder().encode('a prologue');

function run(options: { tamper?: (step: number, message: Uint8Array) => Uint8Array; responderPrologue?: Uint8Array } = {}) {
  const init = new HandshakeState(true, prologue, keyPairFrom(key(1)), key(2));
  const resp = new HandshakeState(false, options.responderPrologue ?? prologue, keyPairFrom(key(3)), key(4));
  const t = options.tamper ?? ((_s, m) => m);
  const m1 = t(1, init.writeMessage(new TextEncoder().encode('p1')));
  const p1 = resp.readMessage(m1);
  const m2 = t(2, resp.writeMessage(new TextEncoder().encode('p2')));
  const p2 = init.readMessage(m2);
  const m3 = t(3, init.writeMessage(new TextEncoder().encode('p3')));
  const p3 = resp.readMessage(m3);
  return { init, resp, messages: [m1, m2, m3], payloads: [p1, p2, p3].map((p) => new TextDecoder().decode(p)) };
}

describe('HandshakeState (Noise XX)', () => {
  it('has the XX message sizes: 32 + payload, 32 + 48 + payload + 16, 48 + payload + 16', () => {
    const { messages } = run();
    expect(messages.map((m) => m.length)).toEqual([32 + 2, 32 + 48 + 2 + 16, 48 + 2 + 16]);
    expect(messages[0]!.subarray(0, 32)).toEqual(x25519.getPublicKey(key(2)));
  });

  it('delivers the payloads, authenticates both static keys and agrees on the handshake hash and transport keys', () => {
    const { init, resp, payloads } = run();
    expect(payloads).toEqual(['p1', 'p2', 'p3']);
    expect(init.result.remoteStatic).toEqual(x25519.getPublicKey(key(3)));
    expect(resp.result.remoteStatic).toEqual(x25519.getPublicKey(key(1)));
    expect(init.result.handshakeHash).toEqual(resp.result.handshakeHash);
    const sealed = init.result.send.encryptWithAd(new Uint8Array(0), Uint8Array.of(42));
    expect(resp.result.receive.decryptWithAd(new Uint8Array(0), sealed)).toEqual(Uint8Array.of(42));
    const back = resp.result.send.encryptWithAd(new Uint8Array(0), Uint8Array.of(43));
    expect(init.result.receive.decryptWithAd(new Uint8Array(0), back)).toEqual(Uint8Array.of(43));
  });

  it('produces byte for byte the messages and handshake hash of an independent XX on OpenSSL (test/support/referenceXX.ts)', () => {
    const ours = run();
    const reference = referenceXX({
      prologue,
      initiatorStatic: key(1),
      initiatorEphemeral: key(2),
      responderStatic: key(3),
      responderEphemeral: key(4),
      payloads: [new TextEncoder().encode('p1'), new TextEncoder().encode('p2'), new TextEncoder().encode('p3')],
    });
    expect(ours.messages.map((m) => Buffer.from(m).toString('hex'))).toEqual(reference.messages.map((m) => m.toString('hex')));
    expect(Buffer.from(ours.init.result.handshakeHash).toString('hex')).toBe(reference.handshakeHash.toString('hex'));
  });

  it('is deterministic with fixed keys (the same messages twice), and differs with another ephemeral', () => {
    expect(run().messages).toEqual(run().messages);
    const other = new HandshakeState(true, prologue, keyPairFrom(key(1)), key(9)).writeMessage(new TextEncoder().encode('p1'));
    expect(other).not.toEqual(run().messages[0]);
  });

  it.each([2, 3])('a flipped bit in message %i fails the handshake', (step) => {
    expect(() =>
      run({
        tamper: (s, m) => {
          if (s !== step) return m;
          const changed = m.slice();
          changed[40]! ^= 1;
          return changed;
        },
      }),
    ).toThrow(HandshakeFailure);
  });

  it('a different prologue (another pair of evas, another handshake id) fails the handshake', () => {
    expect(() => run({ responderPrologue: new TextEncoder().encode('another prologue') })).toThrow(HandshakeFailure);
  });

  it('a low-order (all-zero) ephemeral key from the peer fails the handshake instead of keying on zeros', () => {
    const resp = new HandshakeState(false, prologue, keyPairFrom(key(3)));
    resp.readMessage(new Uint8Array(32));
    expect(() => resp.writeMessage()).toThrow(HandshakeFailure);
  });

  it('refuses to write or read out of turn', () => {
    const init = new HandshakeState(true, prologue, keyPairFrom(key(1)));
    expect(() => init.readMessage(new Uint8Array(32))).toThrow(HandshakeFailure);
    init.writeMessage();
    expect(() => init.writeMessage()).toThrow(HandshakeFailure);
  });
});
