import { expect, it, jest } from '@jest/globals';
import wrtc from '@roamhq/wrtc';
import { resolveWebRtc } from '../src/webRtcImplementation';

it('uses the given implementation, else loads @roamhq/wrtc in Node', () => {
  const given = { RTCPeerConnection: class {}, RTCSessionDescription: class {}, RTCIceCandidate: class {} } as never;
  expect(resolveWebRtc(given)).toBe(given);
  expect(resolveWebRtc(undefined).RTCPeerConnection).toBe(wrtc.RTCPeerConnection);
});

it('throws MISSING_DEPENDENCY when Node has no @roamhq/wrtc', () => {
  jest.isolateModules(() => {
    jest.doMock('@roamhq/wrtc', () => {
      const err = new Error("Cannot find module '@roamhq/wrtc'") as Error & { code: string };
      err.code = 'MODULE_NOT_FOUND';
      throw err;
    });
    const { resolveWebRtc: resolveFresh } = require('../src/webRtcImplementation') as typeof import('../src/webRtcImplementation');
    let thrown: unknown;
    try {
      resolveFresh(undefined);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toMatchObject({ name: 'VnfError', code: 'MISSING_DEPENDENCY' });
    jest.dontMock('@roamhq/wrtc');
  });
});
