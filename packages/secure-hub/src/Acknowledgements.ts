import { VnfError, type ErrorCode } from '@vnf/core';

/** Acknowledgements awaited from one peer at most: past it `sendAcknowledged` throws BUFFER_FULL at the call. */
export const MAX_PENDING_ACKNOWLEDGEMENTS = 4096;

interface Pending {
  resolve(): void;
  reject(error: VnfError): void;
}

/**
 * The `sendAcknowledged` promises of a SecureEndpoint, by peer and id. The peer's acknowledgement is a transport
 * record of its own, sealed under the session's keys: nothing beneath SecureHub (a ReliableHub, the broker) can
 * forge one, so a promise resolves only when the peer's SecureHub handed the message to its application.
 */
export class Acknowledgements {
  private readonly pending = new Map<string, Map<number, Pending>>();
  private nextId = 1;

  /** Reserves an id for a message to `peer`; throws BUFFER_FULL past MAX_PENDING_ACKNOWLEDGEMENTS. */
  reserve(peer: string): { id: number; promise: Promise<void> } {
    let byId = this.pending.get(peer);
    if (!byId) this.pending.set(peer, (byId = new Map()));
    if (byId.size >= MAX_PENDING_ACKNOWLEDGEMENTS) {
      throw new VnfError('BUFFER_FULL', `${MAX_PENDING_ACKNOWLEDGEMENTS} messages to ${peer} await their acknowledgement already: wait for some before sending more.`);
    }
    const id = this.nextId;
    this.nextId = this.nextId === 0xffffffff ? 1 : this.nextId + 1;
    const promise = new Promise<void>((resolve, reject) => byId.set(id, { resolve, reject }));
    return { id, promise };
  }

  /** The message was not sent after all (the send threw): forget its id. */
  release(peer: string, id: number): void {
    const byId = this.pending.get(peer);
    byId?.delete(id);
    if (byId?.size === 0) this.pending.delete(peer);
  }

  /** The peer acknowledged message `id`; an id never sent (or already acknowledged) is ignored. */
  acknowledged(peer: string, id: number): void {
    const byId = this.pending.get(peer);
    const entry = byId?.get(id);
    if (!entry) return;
    byId!.delete(id);
    if (byId!.size === 0) this.pending.delete(peer);
    entry.resolve();
  }

  /** The session with `peer` ended: every promise still waiting rejects with `code`. */
  fail(peer: string, code: ErrorCode, why: string): void {
    const byId = this.pending.get(peer);
    if (!byId) return;
    this.pending.delete(peer);
    for (const entry of byId.values()) entry.reject(new VnfError(code, `The message to ${peer} was not acknowledged: ${why}.`, { details: { peer } }));
  }
}
