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
    // The window (2..9) went out once; the probe resent only the oldest (with its copy, as it ended what the window
    // allowed), whose duplicate b acknowledged at once.
    expect(gate.dataSent('a')).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 2, 2, 10, 11, 12, 13, 14, 15, 16, 17]);
    await until('the send buffer to empty', 20_000, () => a.bufferedAmount('b') === 0);
  });

  it('detects a lost retransmission from the acknowledgement of messages sent after it', async () => {
    const { gate, a, b } = await gatedPair(OPTIONS);
    const atB = record(b);
    await warmUp(a);
    // Seq 3 is lost, then its retransmission and that one's copy; right after them, the application sends more.
    let copiesOf3 = 0;
    gate.drop = (from, _to, frame) => {
      if (from !== 'a' || frame.type !== 'data' || frame.seq !== 3) return false;
      copiesOf3++;
      if (copiesOf3 === 3) setTimeout(() => ['m5', 'm6', 'm7'].forEach((m) => a.send('b', m)), 0);
      return copiesOf3 <= 3;
    };
    for (const m of ['m0', 'm1', 'm2', 'm3', 'm4']) a.send('b', m);
    await until('all 8 messages', 20_000, () => atB.messages.length === 9, () => `${atB.messages.length}`);
    expect(atB.messages).toEqual(['warm-up', 'm0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7']);
    // 3 was found lost by RACK twice: first from 4..6, then (the retransmission) from 7..9, sent after it. Each
    // retransmission ended what could be sent, so each went out with a copy.
    expect(gate.dataSent('a')).toEqual([1, 2, 3, 4, 5, 6, 3, 3, 7, 8, 9, 3, 3]);
  });

  it('sends a retransmission that ends what may be sent twice, so losing one copy costs no probe', async () => {
    const { gate, a, b } = await gatedPair(OPTIONS);
    const atB = record(b);
    await warmUp(a);
    // Seq 3 and its retransmission are lost; nothing is sent after them.
    let copiesOf3 = 0;
    gate.drop = (from, _to, frame) => from === 'a' && frame.type === 'data' && frame.seq === 3 && ++copiesOf3 <= 2;
    for (const m of ['m0', 'm1', 'm2', 'm3', 'm4']) a.send('b', m);
    await until('all 5 messages', 20_000, () => atB.messages.length === 6, () => `${atB.messages.length}`);
    expect(atB.messages).toEqual(['warm-up', 'm0', 'm1', 'm2', 'm3', 'm4']);
    // The retransmission's copy left with it, before anything more arrived at a (a probe would follow an
    // acknowledgement's silence, a probe timeout later).
    const log = gate.log.filter((e) => e.at === 'a');
    const sendsOf3 = log.flatMap((e, i) => (e.dir === 'out' && e.frame.type === 'data' && e.frame.seq === 3 ? [i] : []));
    expect(sendsOf3).toHaveLength(3);
    expect(sendsOf3[2]).toBe(sendsOf3[1]! + 1);
    expect(log[sendsOf3[2]!]!.dropped).toBe(false);
    expect(gate.dataSent('a')).toEqual([1, 2, 3, 4, 5, 6, 3, 3]);
  });

  it('resends a lost retransmission with a probe when nothing sent after it can reveal the loss', async () => {
    const { gate, a, b } = await gatedPair(OPTIONS);
    const atB = record(b);
    await warmUp(a);
    // Seq 3, its retransmission and that one's copy are lost.
    let copiesOf3 = 0;
    gate.drop = (from, _to, frame) => from === 'a' && frame.type === 'data' && frame.seq === 3 && ++copiesOf3 <= 3;
    for (const m of ['m0', 'm1', 'm2', 'm3', 'm4']) a.send('b', m);
    await until('all 5 messages', 20_000, () => atB.messages.length === 6, () => `${atB.messages.length}`);
    expect(atB.messages).toEqual(['warm-up', 'm0', 'm1', 'm2', 'm3', 'm4']);
    // RACK resent 3 once (overtaken by 4..6), with its copy; the probe resent it again, with its copy.
    expect(gate.dataSent('a')).toEqual([1, 2, 3, 4, 5, 6, 3, 3, 3, 3]);
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
    // The acknowledgement of the last arrival and its copy (it reports a gap), then ACK_REPEATS (2) repetitions.
    expect(acks).toEqual(Array.from({ length: 4 }, () => ({ type: 'ack', tag: expect.any(Number), cum: 1, ranges: [[3, 5]] })));
  });

  it('says twice what is missing, so a lost acknowledgement of a gap costs no wait', async () => {
    // Nothing but the copy can recover here within the test's wait: repetitions, probes and heartbeats are a minute away.
    const { gate, a, b } = await gatedPair({ ...OPTIONS, ackDelayMs: 60_000, heartbeatIntervalMs: 60_000, heartbeatTimeoutMs: 120_000 });
    const atB = record(b);
    // Seq 2 is lost once, and so is the first acknowledgement that reports it missing.
    let lost2 = false;
    let lostGapAck = false;
    gate.drop = (from, _to, frame) => {
      if (from === 'a' && frame.type === 'data' && frame.seq === 2 && !lost2) return (lost2 = true);
      if (from === 'b' && isAck(frame) && frame.ranges.length > 0 && !lostGapAck) return (lostGapAck = true);
      return false;
    };
    for (const m of ['m0', 'm1', 'm2', 'm3', 'm4']) a.send('b', m);
    await until('all 5 messages', 5_000, () => atB.messages.length === 5, () => `${atB.messages.length}`);
    expect(atB.messages).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    const gapAcks = gate.log.filter((e) => e.at === 'b' && e.dir === 'out' && isAck(e.frame) && e.frame.ranges.length > 0);
    expect(gapAcks.map((e) => e.dropped)).toEqual([true, false]);
    expect(gapAcks[1]!.frame).toEqual(gapAcks[0]!.frame);
    expect(gate.dataSent('a')).toEqual([1, 2, 3, 4, 5, 2, 2]);
  });
});
