import { expect, it } from '@jest/globals';
import { VnfError } from '@vnf/core';
import { decodeControl, encodeControl, type ControlFrame } from '../src/signalingFrames';

it('round-trips every control frame as a short string', () => {
  const frames: ControlFrame[] = [
    { t: 'ring' },
    { t: 'signal', id: 'x1', data: { type: 'offer', sdp: 'v=0' } },
    { t: 'fail', id: 'x1', reason: 'ICE_TIMEOUT' },
    { t: 'bye' },
    { t: 'relay' },
    { t: 'relay', forced: true },
    { t: 'direct', id: 'x1' },
  ];
  for (const frame of frames) {
    const text = encodeControl(frame);
    expect(typeof text).toBe('string');
    expect(decodeControl(text)).toEqual(frame);
  }
});

it('throws PROTOCOL for anything else', () => {
  for (const text of ['hello', 'vnf-rtc/1 {', 'vnf-rtc/1 {"t":"nope"}', 'vnf-rtc/1 {"t":"signal","id":1,"data":{}}', 'vnf-rtc/1 {"t":"relay","forced":1}', 'vnf-rtc/1 null']) {
    let thrown: unknown;
    try {
      decodeControl(text);
    } catch (err) {
      thrown = err;
    }
    expect(VnfError.is(thrown, 'PROTOCOL')).toBe(true);
  }
});
