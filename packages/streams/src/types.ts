import type { VnfError } from '@vnf/core';

/** A transfer's progress: bytes the receiver holds in order (on both sides), and the size when known. */
export interface TransferProgress {
  bytes: number;
  total: number | null;
}

/** What a finished transfer was: its size and the SHA-256 both sides computed (hex). */
export interface TransferResult {
  bytes: number;
  sha256: string;
}

/** What a receiver learns before the first byte. */
export interface TransferMeta {
  /** 32 hex digits, unique per transfer. */
  id: string;
  /** The sender's eva, as the transport stamped it. */
  from: string;
  name: string;
  /** A media type, '' when none was given. */
  type: string;
  /** Bytes, when the sender knew the size (a Blob, bytes, or the `size` option). */
  size: number | null;
  /** The JSON value the sender passed as `header` (null when none). */
  header: unknown;
}

export interface TransferEvents {
  /** Bytes the receiver holds grew; never decreases, and the last one is the full size. */
  progress: (progress: TransferProgress) => void;
  /** The connection broke: the transfer waits up to `resumeTimeoutMs` for a new one. */
  suspended: () => void;
  /** A new connection took the transfer up again, from `bytes`. */
  resumed: (progress: TransferProgress) => void;
  /** Every byte arrived and the hash matched. */
  done: (result: TransferResult) => void;
  /** The transfer failed or was cancelled (also the rejection of `done`). */
  error: (error: VnfError) => void;
}

export interface PeerStreamsEvents {
  /** A peer started a transfer to this endpoint: read `readable`, or `cancel()`. */
  transfer: (transfer: import('./IncomingTransfer').IncomingTransfer) => void;
  /** Something a peer sent was not understood, or a listener threw. */
  error: (error: VnfError) => void;
}

export interface PeerStreamsOptions {
  /** The sub-protocol's name; both peers use the same. Default 'vnf.streams'. */
  subProtocol?: string;
  /** Most data bytes per frame; default the channel's largest payload (at most 64 KiB), minus the frame's header. */
  chunkSize?: number;
  /** Bytes a receiver lets a sender have in flight and queued unread, per transfer. Default 4 MiB. */
  windowBytes?: number;
  /** How long both sides wait for a new connection after a break before failing with UNAVAILABLE; 0: no resume. Default 30 s. */
  resumeTimeoutMs?: number;
  /** Most unconfirmed bytes a sender keeps for a source that cannot seek (a stream or iterable). Default 8 MiB. */
  resumeWindowBytes?: number;
  /** Least time between two progress events of one transfer (the last one always fires). Default 100 ms. */
  progressIntervalMs?: number;
  /** Most transfers from one peer in progress at once; the next is refused BUFFER_FULL. Default 16. */
  maxIncomingPerPeer?: number;
}

export interface SendOptions {
  /** Defaults to a File's name, else ''. */
  name?: string;
  /** Defaults to a Blob's type, else ''. */
  type?: string;
  /** The size of a stream or iterable, when known (it must match: a different length fails with INTEGRITY). */
  size?: number;
  /** A JSON value the receiver gets with the metadata (at most 16 KiB as JSON). */
  header?: unknown;
  /** Aborting it cancels the transfer. */
  signal?: AbortSignal;
}
