import { trackResources } from '@vnf/conformance';
import { InBrowserHub } from '@vnf/in-browser-hub';
import { MarshallerHub } from '../src';
import { GatedHub } from './support/GatedHub';
import { Recorder, closeAll, connect, marshallerPair, pattern, sameBytes, track, waitFor } from './support/helpers';

afterEach(closeAll);

const BIG = 5 * 1024 * 1024;

describe('connection loss during a transfer', () => {
  it('the sender closing mid-transfer: the receiver discards the half message and reports it; a new connection starts clean', async () => {
    const { a, b, atA, atB } = await marshallerPair();
    a.send(b.eva, pattern(BIG, 1));
    // Part of the message was handed over synchronously; the rest is still queued in `a`.
    expect(a.bufferedAmount(b.eva)).toBeGreaterThan(0);
    a.closeConnection(b.eva);
    expect(a.bufferedAmount(b.eva)).toBe(0);
    await atB.until('lost and error', () => atB.events.includes(`lost:${a.eva}`) && atB.errors.length === 1);
    expect(atB.errors[0].code).toBe('UNAVAILABLE');
    expect(atB.errors[0].details).toMatchObject({ discarded: 1 });
    expect(atB.messages.length).toBe(0);
    // Closing on purpose is not an error on the closing side.
    expect(atA.errors).toEqual([]);

    await connect(a, b);
    a.send(b.eva, pattern(BIG, 2));
    a.send(b.eva, 'after');
    await atB.messageCount(2);
    expect(atB.messages[0]).toBe('after');
    expect(sameBytes(atB.messages[1], pattern(BIG, 2))).toBe(true);
  }, 60_000);

  it('the receiver leaving mid-transfer: the sender reports the messages it could not finish', async () => {
    const { a, b, atA } = await marshallerPair();
    a.send(b.eva, pattern(BIG, 3));
    a.send(b.eva, pattern(BIG, 4));
    b.destroy();
    await atA.until('lost and error', () => atA.events.includes(`lost:${b.eva}`) && atA.errors.length === 1);
    expect(atA.errors[0].code).toBe('UNAVAILABLE');
    expect(atA.errors[0].details).toMatchObject({ peer: b.eva, unsent: 2 });
    expect(a.bufferedAmount(b.eva)).toBe(0);
  }, 60_000);
});

describe('destroy', () => {
  it('clears every timer: reassembly timers and a sender paused on backpressure', async () => {
    const resources = trackResources();
    // A gate that never emits drain but refuses frames past two: the sender retries on its blind timer.
    const gated = new GatedHub(new InBrowserHub(), false, 2);
    const hub = track(new MarshallerHub(gated, { chunkSize: 1024 }));
    const a = hub.openEndpoint('a');
    const b = hub.openEndpoint('b');
    const atB = new Recorder(b);
    await connect(a, b);
    const gate = gated.openEndpoint('a');
    const gateB = gated.openEndpoint('b');
    a.send(b.eva, pattern(100_000));
    // Let the first frames through so `b` has a transfer in progress (with its reassembly timer),
    // while `a` stays paused on the gate's BUFFER_FULL (retrying on a timer, as this gate never emits drain).
    const framesAtB = waitFor<void>('frames to reach b', (done) => {
      const listener = (): void => done();
      gateB.on('message', listener);
      return () => gateB.off('message', listener);
    });
    gate.release();
    await framesAtB;
    expect(resources.count('Timeout')).toBeGreaterThanOrEqual(2);
    expect(atB.messages.length).toBe(0);
    a.destroy();
    b.destroy();
    expect(resources.describe()).toBe('nothing the test created is still alive');
    resources.stop();
    expect(() => a.send(b.eva, 'x')).toThrow(expect.objectContaining({ code: 'DESTROYED' }));
  });
});
