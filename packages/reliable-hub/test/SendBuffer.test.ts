import { describe, expect, it } from '@jest/globals';
import { RttEstimator } from '../src/RttEstimator';
import { SendBuffer } from '../src/SendBuffer';

function buffer(window = 4): SendBuffer {
  const send = new SendBuffer(window, new RttEstimator(100, 10, 1000));
  for (let i = 0; i < 6; i++) send.push(10, (seq) => `f${seq}`);
  return send;
}

/** Transmits everything the window allows; returns the sequence numbers sent. */
function transmit(send: SendBuffer, now: number): number[] {
  const sent: number[] = [];
  for (let entry = send.peek(); entry; entry = send.peek()) {
    send.sent(entry, now);
    sent.push(entry.seq);
  }
  return sent;
}

describe('SendBuffer', () => {
  it('sends no more than the window ahead of the cumulative acknowledgement', () => {
    const send = buffer(4);
    expect(transmit(send, 0)).toEqual([1, 2, 3, 4]);
    send.acknowledge(2, [], 5);
    expect(transmit(send, 5)).toEqual([5, 6]);
    expect(send.bytes).toBe(40);
  });

  it('releases selectively acknowledged messages and retransmits a hole overtaken by later ones', () => {
    const send = buffer(8);
    transmit(send, 0);
    // 2 was lost; 3..6 arrived.
    const result = send.acknowledge(1, [[3, 6]], 20);
    expect(result).toEqual({ advanced: true, released: 5 });
    expect(send.bytes).toBe(10);
    send.detectLosses(20 + send.rtt.reorderWindow);
    expect(transmit(send, 30)).toEqual([2]);
  });

  it('retransmits on timeout with exponential backoff', () => {
    const send = buffer(1);
    transmit(send, 0);
    expect(send.detectLosses(50)).toBe(100);
    send.detectLosses(100);
    expect(transmit(send, 100)).toEqual([1]);
    // Backed off: the next timeout is twice the RTO away.
    expect(send.detectLosses(150)).toBe(300);
  });

  it('ignores acknowledgements of messages never sent', () => {
    const send = buffer(2);
    transmit(send, 0);
    expect(send.acknowledge(5, [[6, 9]], 1)).toEqual({ advanced: false, released: 0 });
    expect(send.cumAcked).toBe(0);
  });

  it('resends everything in flight after resendAll', () => {
    const send = buffer(3);
    transmit(send, 0);
    send.resendAll();
    expect(transmit(send, 1)).toEqual([1, 2, 3]);
  });
});
