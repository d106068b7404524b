/** Status values returned (not thrown) by registry operations, as in the seed: `Vnf.Global.OK`. */
export const Global = {
  OK: 'OK',
  ALREADY_EXISTS: 'ALREADY_EXISTS',
  /** A conditional registry write (`write`/`remove` with `when`) whose condition did not hold: nothing was written. */
  CONFLICT: 'CONFLICT',
} as const;
export type Status = (typeof Global)[keyof typeof Global];

/** Outcome of `openConnection`. */
export const ConnectionStatus = {
  CONNECTED: 'CONNECTED',
  FAILED: 'FAILED',
  REJECTED: 'REJECTED',
  TIMEOUT: 'TIMEOUT',
} as const;
export type ConnectionStatus = (typeof ConnectionStatus)[keyof typeof ConnectionStatus];
