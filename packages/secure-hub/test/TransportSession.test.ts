import { CipherState } from '../src/CipherState';
import { TransportSession, type SessionLimits } from '../src/TransportSession';

const key1 = new Uint8Array(32).fill(1);
const key2 = new Uint8Array(32).fill(2);

function pair(limits: Partial<SessionLimits> = {}): [TransportSession, TransportSession] {
  const full: SessionLimits = { ordered: true, replayWindow: 64, rekeyAfterMessages: 1000, rekeyAfterBytes: 1e9, ...limits };
  const cs = (k: Uint8Array): CipherState => {
    const c = new CipherState();
    c.initializeKey(k);
    return c;
  };
  const remote = new Uint8Array(32).fill(9);
  const hash = new Uint8Array(32);
  return [new TransportSession(7, 'b', remote, hash, cs(key1), cs(key2), full), new TransportSession(7, 'a', remote, hash, cs(key2), cs(key1), full)];
}

const text = (bytes: Uint8Array | string): string => (typeof bytes === 'string' ? `fault:${bytes}` : new TextDecoder().decode(bytes));
const msg = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('TransportSession', () => {
  it('over an ordered inner: each record once, in order; a replay, a skip or another session is refused', () => {
    const [a, b] = pair();
    const r0 = a.seal(msg('zero'));
    const r1 = a.seal(msg('one'));
    const r2 = a.seal(msg('two'));
    expect(text(b.open(r0))).toBe('zero');
    expect(text(b.open(r0))).toBe('fault:replay');
    expect(text(b.open(r2))).toBe('fault:sequence');
    expect(text(b.open(r1))).toBe('one');
    const other = r2.slice();
    other[4]! ^= 1; // the session id
    expect(text(b.open(other))).toBe('fault:session');
    expect(text(b.open(r2))).toBe('two');
  });

  it('authenticates the header: a changed epoch or counter does not decrypt', () => {
    const [a, b] = pair({ ordered: false });
    const r0 = a.seal(msg('zero'));
    const counter = r0.slice();
    counter[16]! ^= 1;
    expect(text(b.open(counter))).toBe('fault:tag');
    const epoch = r0.slice();
    epoch[8]! ^= 1;
    expect(text(b.open(epoch))).toBe('fault:tag');
    expect(text(b.open(r0))).toBe('zero');
  });

  it('follows the sender across rekeys; over ordered: false also a late record of the previous epoch', () => {
    const [a, b] = pair({ ordered: false, rekeyAfterMessages: 2 });
    const records = ['m0', 'm1', 'm2', 'm3', 'm4'].map((m) => a.seal(msg(m)));
    expect(a.rekeys).toBe(2);
    // m2 (epoch 1) arrives after m3 (epoch 1) and m4 (epoch 2): the previous key is kept for it.
    expect([0, 1, 3, 4, 2].map((i) => text(b.open(records[i]!)))).toEqual(['m0', 'm1', 'm3', 'm4', 'm2']);
  });

  it('a forged epoch bump changes nothing: the receiver keeps its key', () => {
    const [a, b] = pair({ rekeyAfterMessages: 1000 });
    const r0 = a.seal(msg('zero'));
    const forged = r0.slice();
    forged[8] = 1; // epoch 1, same ciphertext
    expect(text(b.open(forged))).toBe('fault:tag');
    expect(text(b.open(r0))).toBe('zero');
  });
});

describe('TransportSession.unseal', () => {
  it('takes back a record the inner endpoint refused: the next one reuses its counter, and the receiver sees no gap', () => {
    const [a, b] = pair({ rekeyAfterMessages: 2 });
    expect(text(b.open(a.seal(msg('m0'))))).toBe('m0');
    expect(text(b.open(a.seal(msg('m1'))))).toBe('m1');
    a.seal(msg('refused')); // rekeys to epoch 1, then the inner endpoint refuses it
    a.unseal(msg('refused').length);
    expect(text(b.open(a.seal(msg('m2'))))).toBe('m2');
    expect(text(b.open(a.seal(msg('m3'))))).toBe('m3');
  });
});
