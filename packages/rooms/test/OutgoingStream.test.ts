import { decodeFrame } from '../src/frames';
import { OutgoingStream, PROBE_FIRST_MS, PROBE_MAX_MS, UNICAST_PROBE_EVERY } from '../src/OutgoingStream';

const INC = 'abc12345';

function stream(limits = { historySize: 3, historyBytes: 1 << 20 }) {
  const multicasts: Array<{ targets: readonly string[]; frame: unknown }> = [];
  const unicasts: Array<{ target: string; frame: unknown }> = [];
  const out = new OutgoingStream(INC, limits, {
    multicast: (targets, frame) => multicasts.push({ targets, frame: decodeFrame(frame) }),
    unicast: (target, frame) => {
      unicasts.push({ target, frame: decodeFrame(frame) });
      return true;
    },
  });
  return { out, multicasts, unicasts };
}

describe('OutgoingStream', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('numbers broadcasts, sends them to started members only, and tells each where its stream starts', () => {
    const { out, multicasts, unicasts } = stream();
    out.broadcast('before anyone');
    out.owe('b');
    out.broadcast('b is owed this');
    out.start('b');
    out.broadcast('b gets this');
    expect(unicasts).toEqual([{ target: 'b', frame: { kind: 'control', control: { t: 'hello', i: INC, n: 1, s: 1 } } }]);
    expect(multicasts.map((m) => [m.targets, (m.frame as { seq: number }).seq])).toEqual([
      [[], 0],
      [[], 1],
      [['b'], 2],
    ]);
    out.close();
  });

  it('repairs from its history and says gone for what left it', () => {
    const { out, unicasts } = stream();
    out.owe('b');
    for (let i = 0; i < 5; i++) out.broadcast(String(i));
    out.repair('b', [[0, 4]]);
    expect(unicasts.map((u) => u.frame)).toEqual([
      { kind: 'control', control: { t: 'gone', i: INC, upTo: 2 } },
      { kind: 'broadcast', inc: INC, seq: 2, body: '2' },
      { kind: 'broadcast', inc: INC, seq: 3, body: '3' },
      { kind: 'broadcast', inc: INC, seq: 4, body: '4' },
    ]);
    // A member it owes nothing asks in vain.
    out.repair('stranger', [[0, 4]]);
    expect(unicasts).toHaveLength(4);
    out.close();
  });

  it('probes the tail after a burst, backing off while quiet, then stops', () => {
    const { out, multicasts } = stream();
    out.owe('b');
    out.start('b');
    out.broadcast('x');
    jest.advanceTimersByTime(PROBE_FIRST_MS);
    const probes = (): unknown[] => multicasts.filter((m) => (m.frame as { kind: string }).kind === 'control');
    expect(probes()).toEqual([{ targets: ['b'], frame: { kind: 'control', control: { t: 'hi', i: INC, s: 0 } } }]);
    jest.advanceTimersByTime(PROBE_MAX_MS * 4);
    const count = probes().length;
    expect(count).toBeGreaterThan(1);
    jest.advanceTimersByTime(PROBE_MAX_MS * 10);
    expect(probes().length).toBe(count);
    out.close();
  });

  it('every few probes, and the last of a quiet series, go to each member on its own connection', () => {
    const { out, multicasts, unicasts } = stream();
    out.owe('b');
    out.start('b');
    const hellos = unicasts.length;
    const probeUnicasts = (): number => unicasts.slice(hellos).filter((u) => (u.frame as { control?: { t: string } }).control?.t === 'hi').length;
    // Busy: a broadcast before every probe, so the series never goes quiet.
    for (let i = 0; i < UNICAST_PROBE_EVERY; i++) {
      out.broadcast(String(i));
      jest.advanceTimersByTime(PROBE_FIRST_MS);
    }
    expect(probeUnicasts()).toBe(1);
    // Quiet: the series backs off to its end, whose last probe is a unicast.
    jest.advanceTimersByTime(PROBE_MAX_MS * 4);
    expect(probeUnicasts()).toBe(2);
    expect(multicasts.filter((m) => (m.frame as { kind: string }).kind === 'control').length).toBeGreaterThan(UNICAST_PROBE_EVERY);
    out.close();
  });
});
