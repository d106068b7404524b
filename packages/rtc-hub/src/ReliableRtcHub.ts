import { option, optionsSchema } from '@vnf/core';
import type { Hub } from '@vnf/core';
import { ReliableHub, type ReliableHubOptions } from '@vnf/reliable-hub';
import { RtcHub } from './RtcHub';
import type { RtcHubOptions } from './options';

/** Options of ReliableRtcHub: one object for each layer, each checked by its layer. */
export interface ReliableRtcHubOptions {
  /**
   * Options of the RtcHub beneath. `relay` defaults to `'fallback'` here (RtcHub's own default is `'never'`).
   * @default { relay: 'fallback' } and RtcHub's defaults
   */
  rtc?: RtcHubOptions;
  /**
   * Options of the ReliableHub on top (acknowledgements, retransmission, heartbeats, restore timeout).
   * @default ReliableHub's defaults
   */
  reliable?: ReliableHubOptions;
}

// The layers check what is inside; this only makes sure a misspelt layer name (`{ rtcOptions: … }`) is not ignored.
const SCHEMA = optionsSchema('ReliableRtcHub', {
  rtc: option.object<RtcHubOptions>({ expected: 'an object of RtcHub options' }),
  reliable: option.object<ReliableHubOptions>({ expected: 'an object of ReliableHub options' }),
});

/**
 * `ReliableHub` over `RtcHub` with relay fallback: messages take the data channel when one is up and the
 * signaling connection otherwise; ReliableHub's sequencing makes every switch free of loss, duplication and
 * reordering. `close()` closes the RtcHub and the signaling hub too.
 */
export class ReliableRtcHub extends ReliableHub<RtcHub> {
  constructor(signalingHub: Hub, options: ReliableRtcHubOptions = {}) {
    const { rtc, reliable } = SCHEMA.resolve(options);
    super(new RtcHub(signalingHub, { relay: 'fallback', ...rtc }), reliable);
  }
}
