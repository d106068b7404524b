import { afterEach, describe, expect, it } from '@jest/globals';
import { ConnectionStatus, type Hub } from '@vnf/core';
import { InBrowserHub } from '@vnf/in-browser-hub';
import { ReliableHub, type ReliableEndpoint, type ReliableHubOptions } from '@vnf/reliable-hub';
import type { Frame } from '../src/frameCodec';
import { GateHub, record, until, type GateEntry } from './helpers';

/**
 * Loss recovery through a GateHub that drops exactly the frames a test picks. The retransmission timeout is
 * far beyond the test's waits, so a recovery that needs it fails the test instead of passing slowly; the
 * assertions are on which frames were sent, in which order. `ackDelayMs` is large so the probe timeout
 * (at least one round trip plus the acknowledgement delay) is far above the time the frames take here.
 */
const OPTIONS: ReliableHubOptions = { ackDelayMs: 200, minRtoMs: 60_000, initialRtoMs: 60_000, maxRtoMs: 60_000 };

const hubs: Hub[] = [];
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((hub) => hub.close()));
});

async function gatedPair(options: ReliableHubOptions): Promise<{ gate: GateHub; a: ReliableEndpoint; b: ReliableEndpoint }> {
  const gate = new GateHub(new InBrowserHub());
  const hub = new ReliableHub(gate, options);
  hubs.push(hub);
  const a = hub.openEndpoint('a');
  const b = hub.openEndpoint('b');
  expect(await a.openConnection('b')).toEqual({ status: ConnectionStatus.CONNECTED, targetEva: 'b' });
  return { gate, a, b };
}

/** Sends one message and waits for its acknowledgement, so the sender has measured a round trip. */
async function warmUp(a: ReliableEndpoint): Promise<void> {
  await a.sendAcknowledged('b', 'warm-up');
}

const isAck = (frame: Frame): frame is Extract<Frame, { type: 'ack' }> => frame.type === 'ack';

describe('ReliableHub loss recovery', () => {
  it('recovers a lost acknowledgement of a full window with one probe, not a chain of timeouts', async () => {
    const { gate, a, b } = await gatedPair({ ...OPTIONS, sendWindow: 8 });
    const atB = record(b);
    await warmUp(a);
    // Every acknowledgement b sends is lost until the one that covers the whole window (seq 2..9).
    let dropping = true;
    gate.drop = (from, _to, frame) => {
      if (!dropping || from !== 'b' || !isAck(frame)) return false;
      if (frame.cum === 9) dropping = false;
      return true;
    };
    const expected = Array.from({ length: 16 }, (_, i) => `m${i}`);
    for (const m of expected) a.send('b', m);
    await until('all 16 messages', 20_000, () => atB.messages.length === 17, () => `${atB.messages.length}`);
    expect(atB.messages).toEqual(['warm-up', ...expected]);
    expect(dropping).toBe(false);
    // The window (2..9) went out once; the probe resent only the oldest, whose duplicate b acknowledged at once.
    expect(gate.dataSent('a')).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 2, 10, 11, 12, 13, 14, 15, 16, 17]);
    await until('the send buffer to empty', 20_000, () => a.bufferedAmount('b') === 0);
  });

  it('detects a lost retransmission from the acknowledgement of messages sent after it', async () => {
    const { gate, a, b } = await gatedPair(OPTIONS);
    const atB = record(b);
    await warmUp(a);
    // The first two transmissions of seq 3 are lost; right after the second, the application sends more.
    let copiesOf3 = 0;
    gate.drop = (from, _to, frame) => {
      if (from !== 'a' || frame.type !== 'data' || frame.seq !== 3) return false;
      copiesOf3++;
      if (copiesOf3 === 2) setTimeout(() => ['m5', 'm6', 'm7'].forEach((m) => a.send('b', m)), 0);
      return copiesOf3 <= 2;
    };
    for (const m of ['m0', 'm1', 'm2', 'm3', 'm4']) a.send('b', m);
    await until('all 8 messages', 20_000, () => atB.messages.length === 9, () => `${atB.messages.length}`);
    expect(atB.messages).toEqual(['warm-up', 'm0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7']);
    // 3 was found lost by RACK twice: first from 4..6, then (the retransmission) from 7..9, sent after it.
    expect(gate.dataSent('a')).toEqual([1, 2, 3, 4, 5, 6, 3, 7, 8, 9, 3]);
  });

  it('resends a lost retransmission with a probe when nothing sent after it can reveal the loss', async () => {
    const { gate, a, b } = await gatedPair(OPTIONS);
    const atB = record(b);
    await warmUp(a);
    let copiesOf3 = 0;
    gate.drop = (from, _to, frame) => from === 'a' && frame.type === 'data' && frame.seq === 3 && ++copiesOf3 <= 2;
    for (const m of ['m0', 'm1', 'm2', 'm3', 'm4']) a.send('b', m);
    await until('all 5 messages', 20_000, () => atB.messages.length === 6, () => `${atB.messages.length}`);
    expect(atB.messages).toEqual(['warm-up', 'm0', 'm1', 'm2', 'm3', 'm4']);
    // RACK resent 3 once (overtaken by 4..6); the probe resent it again. Nothing else was sent twice.
    expect(gate.dataSent('a')).toEqual([1, 2, 3, 4, 5, 6, 3, 3]);
  });

  it('repeats the acknowledgement while the receiver holds a gap, then falls silent', async () => {
    const { gate, a, b } = await gatedPair({ heartbeatIntervalMs: 300, heartbeatTimeoutMs: 60_000 });
    // seq 2 never arrives, and nothing else from a after the data (its probes and acknowledgements are lost).
    gate.drop = (from, _to, frame) => from === 'a' && (frame.type !== 'data' || frame.seq === 2);
    for (const m of ['m1', 'm2', 'm3', 'm4', 'm5']) a.send('b', m);
    const fromB = (): GateEntry[] => gate.log.filter((e) => e.at === 'b');
    // b's own heartbeat probe comes once it heard nothing for heartbeatIntervalMs: well after any repetition.
    await until("b's heartbeat probe", 20_000, () => fromB().some((e) => e.dir === 'out' && e.frame.type === 'probe'));
    const log = fromB();
    const lastData = log.map((e) => e.dir === 'in' && e.frame.type === 'data').lastIndexOf(true);
    const firstProbe = log.findIndex((e) => e.dir === 'out' && e.frame.type === 'probe');
    expect(lastData).toBeGreaterThanOrEqual(0);
    expect(firstProbe).toBeGreaterThan(lastData);
    const acks = log.slice(lastData + 1, firstProbe).map((e) => e.frame);
    // The acknowledgement of the last arrival, then ACK_REPEATS (2) repetitions of it.
    expect(acks).toEqual(Array.from({ length: 3 }, () => ({ type: 'ack', tag: expect.any(Number), cum: 1, ranges: [[3, 5]] })));
  });
});
