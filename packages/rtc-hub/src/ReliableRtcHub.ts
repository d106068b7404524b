import { VnfError } from '@vnf/core';
import type { Hub } from '@vnf/core';
import { ReliableHub, type ReliableHubOptions } from '@vnf/reliable-hub';
import { RtcHub } from './RtcHub';
import type { RtcHubOptions } from './options';

/** Options of ReliableRtcHub: one object for each layer. */
export interface ReliableRtcHubOptions {
  /** Options of the RtcHub beneath. `relay` defaults to `'fallback'` here (RtcHub's own default is `'never'`). */
  rtc?: RtcHubOptions;
  /** Options of the ReliableHub on top (acknowledgements, retransmission, heartbeats, restore timeout). */
  reliable?: ReliableHubOptions;
}

/**
 * `ReliableHub` over `RtcHub` with relay fallback: messages take the data channel when one is up and the
 * signaling connection otherwise; ReliableHub's sequencing makes every switch free of loss, duplication and
 * reordering. `close()` closes the RtcHub and the signaling hub too.
 */
export class ReliableRtcHub extends ReliableHub<RtcHub> {
  constructor(signalingHub: Hub, options: ReliableRtcHubOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw new VnfError('INVALID_ARGUMENT', 'ReliableRtcHub options must be an object such as { rtc: {…}, reliable: {…} } when given.');
    }
    super(new RtcHub(signalingHub, { relay: 'fallback', ...options.rtc }), options.reliable);
  }
}
