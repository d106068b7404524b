import type { Control } from '../src/frames';
import { IncomingStreams, NACK_FIRST_MS } from '../src/IncomingStreams';

const INC = 'abc12345';

function streams(maxOutOfOrder = 100) {
  const delivered: string[] = [];
  const controls: Control[] = [];
  const gaps: number[] = [];
  const s = new IncomingStreams(maxOutOfOrder, {
    deliver: (from, body) => delivered.push(`${from}:${String(body)}`),
    control: (_target, control) => {
      controls.push(control);
      return true;
    },
    gap: (_from, missed) => gaps.push(missed),
  });
  return { s, delivered, controls, gaps };
}

describe('IncomingStreams', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('holds frames until the hello says where the stream starts, then delivers from there in order', () => {
    const { s, delivered, controls } = streams();
    s.broadcast('a', INC, 6, 'six');
    s.broadcast('a', INC, 4, 'four');
    expect(delivered).toEqual([]);
    expect(controls).toEqual([{ t: 'hey', i: INC }]);
    s.control('a', INC, { t: 'hello', i: INC, n: 5 });
    s.broadcast('a', INC, 5, 'five');
    expect(delivered).toEqual(['a:five', 'a:six']);
  });

  it('asks a member for its hello when their connection opens, and repairs at once what that hello says was sent', () => {
    const { s, delivered, controls } = streams();
    // The member's own hello, sent before its broadcast; the broadcast itself was lost while this side's connection opened.
    s.control('a', INC, { t: 'hello', i: INC, n: 0 });
    expect(controls).toEqual([]);
    s.connected('a', INC);
    expect(controls).toEqual([{ t: 'hey', i: INC }]);
    s.control('a', INC, { t: 'hello', i: INC, n: 0, s: 0 });
    jest.advanceTimersByTime(NACK_FIRST_MS);
    expect(controls).toEqual([{ t: 'hey', i: INC }, { t: 'nack', i: INC, r: [[0, 0]] }]);
    s.broadcast('a', INC, 0, 'zero');
    expect(delivered).toEqual(['a:zero']);
  });

  it('delivers each seq once, reorders behind a gap and asks for the gap again until it is filled', () => {
    const { s, delivered, controls } = streams();
    s.control('a', INC, { t: 'hello', i: INC, n: 0 });
    s.broadcast('a', INC, 0, '0');
    s.broadcast('a', INC, 0, '0 again');
    s.broadcast('a', INC, 3, '3');
    s.broadcast('a', INC, 2, '2');
    expect(delivered).toEqual(['a:0']);
    jest.advanceTimersByTime(NACK_FIRST_MS);
    expect(controls).toEqual([{ t: 'nack', i: INC, r: [[1, 1]] }]);
    jest.advanceTimersByTime(NACK_FIRST_MS * 2);
    expect(controls).toHaveLength(2);
    s.broadcast('a', INC, 1, '1');
    expect(delivered).toEqual(['a:0', 'a:1', 'a:2', 'a:3']);
    jest.advanceTimersByTime(10_000);
    expect(controls).toHaveLength(2);
  });

  it('a probe past what was delivered asks for the tail at once', () => {
    const { s, controls } = streams();
    s.control('a', INC, { t: 'hello', i: INC, n: 0 });
    s.broadcast('a', INC, 0, '0');
    s.control('a', INC, { t: 'hi', i: INC, s: 4 });
    jest.advanceTimersByTime(0);
    expect(controls).toEqual([{ t: 'nack', i: INC, r: [[1, 4]] }]);
  });

  it('gone skips what cannot be repaired, with a gap event, and delivers what waited after it', () => {
    const { s, delivered, gaps } = streams();
    s.control('a', INC, { t: 'hello', i: INC, n: 0 });
    s.broadcast('a', INC, 5, '5');
    s.control('a', INC, { t: 'gone', i: INC, upTo: 5 });
    expect(gaps).toEqual([5]);
    expect(delivered).toEqual(['a:5']);
  });

  it('a new incarnation of a sender starts a new stream', () => {
    const { s, delivered } = streams();
    s.control('a', INC, { t: 'hello', i: INC, n: 0 });
    s.broadcast('a', INC, 0, 'old');
    s.control('a', 'zzz99999', { t: 'hello', i: 'zzz99999', n: 0 });
    s.broadcast('a', 'zzz99999', 0, 'new');
    expect(delivered).toEqual(['a:old', 'a:new']);
  });

  it('holds at most maxOutOfOrder frames behind a gap (the rest is asked for again later)', () => {
    const { s, delivered } = streams(2);
    s.control('a', INC, { t: 'hello', i: INC, n: 0 });
    for (const seq of [1, 2, 3]) s.broadcast('a', INC, seq, String(seq));
    s.broadcast('a', INC, 0, '0');
    expect(delivered).toEqual(['a:0', 'a:1', 'a:2']);
    s.broadcast('a', INC, 3, '3');
    expect(delivered).toEqual(['a:0', 'a:1', 'a:2', 'a:3']);
    s.close();
  });
});

describe('IncomingStreams nacks', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('one nack asks for every gap at once, and progress resets its backoff', () => {
    const { s, controls } = streams();
    s.control('a', INC, { t: 'hello', i: INC, n: 0 });
    for (const seq of [0, 2, 3, 6]) s.broadcast('a', INC, seq, String(seq));
    jest.advanceTimersByTime(NACK_FIRST_MS);
    expect(controls).toEqual([{ t: 'nack', i: INC, r: [[1, 1], [4, 5]] }]);
    jest.advanceTimersByTime(NACK_FIRST_MS * 2 + NACK_FIRST_MS * 4);
    expect(controls).toHaveLength(3);
    s.broadcast('a', INC, 1, '1');
    jest.advanceTimersByTime(NACK_FIRST_MS);
    expect(controls[3]).toEqual({ t: 'nack', i: INC, r: [[4, 5]] });
  });
});

describe('IncomingStreams after a reopened connection', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('a hello telling of a tail this member never got asks for it, though its start did not move', () => {
    const { s, controls } = streams();
    s.control('a', INC, { t: 'hello', i: INC, n: 0 });
    s.broadcast('a', INC, 0, '0');
    // The connection dropped; the sender broadcast 1..9 meanwhile and stopped probing long ago. It says hello again.
    s.control('a', INC, { t: 'hello', i: INC, n: 0, s: 9 });
    jest.advanceTimersByTime(NACK_FIRST_MS);
    expect(controls).toEqual([{ t: 'nack', i: INC, r: [[1, 9]] }]);
  });
});
