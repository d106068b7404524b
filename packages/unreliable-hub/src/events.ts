/**
 * What UnreliableHub did. Message actions carry the message's `seq`; connection actions (`cut`, `refused`) do not,
 * nor does `discarded` for a message caught in flight at the receiving side by a cut.
 */
export type ChaosAction =
  /** A copy of the message was handed on (to the inner endpoint, or to the application for incoming chaos). */
  | 'delivered'
  | 'dropped'
  /** The message will be delivered twice (two `delivered` events follow). */
  | 'duplicated'
  /** The message was held back so later ones overtake it. */
  | 'reordered'
  /** The message was held by latency, jitter or the bandwidth cap. */
  | 'delayed'
  /** The message vanished in a black hole. */
  | 'blackholed'
  /** The message vanished between two sides of a partition. */
  | 'partitioned'
  /** The message was held or in flight when its connection closed, was lost or was cut. */
  | 'discarded'
  /** A connection was cut: both sides get connectionLost. */
  | 'cut'
  /** A new connection across a partition with `cut: true` was refused. */
  | 'refused';

export interface ChaosEvent {
  /** The message's sequence number on its directed pair from → to (1, 2, …); absent for connection actions. */
  seq?: number;
  from: string;
  to: string;
  action: ChaosAction;
  /** Milliseconds since the hub was created. The only field that differs between replays of one seed. */
  atMs: number;
}

/** Counters of what UnreliableHub did. `sent` counts messages that entered it; the others count ChaosEvents. */
export type ChaosStats = Record<ChaosAction | 'sent', number>;

export function emptyStats(): ChaosStats {
  return {
    sent: 0,
    delivered: 0,
    dropped: 0,
    duplicated: 0,
    reordered: 0,
    delayed: 0,
    blackholed: 0,
    partitioned: 0,
    discarded: 0,
    cut: 0,
    refused: 0,
  };
}
