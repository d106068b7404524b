import { BATCH_ENTRY_HEADER } from './Outbox';
import { ACK_ID_BYTES, Kind, groupEntries } from './records';

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** What the plaintexts need of their endpoint. */
export interface PlaintextsHost {
  /** Hands a message to the application (through the endpoint's listener guard). */
  deliver(peer: string, message: string | Uint8Array): void;
  /** The secure connection to `peer` is still there (a listener may have closed it, or destroyed the endpoint). */
  isOpen(peer: string): boolean;
  protocolError(peer: string, what: string): void;
  /** The peer's application has the message `sendAcknowledged` gave this id. */
  acknowledged(peer: string, id: number): void;
  /** Seals `plaintext` to `peer` and sends it (best effort). */
  sendPairwise(peer: string, plaintext: Uint8Array): boolean;
  /** A sender key the peer handed over its session; false when malformed. */
  senderKey(peer: string, grant: Uint8Array): boolean;
  /** The peer asks for the sender key a group record named. */
  senderKeyRequested(peer: string, id: number): void;
}

/**
 * What opened records say (records.ts, `Kind`): messages to deliver — alone, in a turn's batch or in a group record —
 * sender keys and requests for them, acknowledgements. Each message is delivered in order, and the rest of a record
 * is dropped once a listener closed the connection.
 */
export class Plaintexts {
  constructor(private readonly host: PlaintextsHost) {}

  /** A transport record's plaintext from `peer`'s session: a message, a batch of them, a key, an acknowledgement. */
  transport(peer: string, opened: Uint8Array): void {
    if (opened.length === 0) return this.host.protocolError(peer, 'an empty record');
    const kind = opened[0];
    if (kind === Kind.binary) return this.host.deliver(peer, opened.slice(1));
    if (kind === Kind.string) {
      let text: string;
      try {
        text = decoder.decode(opened.subarray(1));
      } catch {
        return this.host.protocolError(peer, 'a string record that is not UTF-8');
      }
      return this.host.deliver(peer, text);
    }
    if (kind === Kind.ready) return; // a late copy over a lossy inner (ordered inners refuse it as a replay)
    if (kind === Kind.batch) return this.batch(peer, opened);
    if (kind === Kind.senderKey) {
      if (!this.host.senderKey(peer, opened)) this.host.protocolError(peer, 'a sender key record of the wrong length');
      return;
    }
    if (kind === Kind.senderKeyRequest) {
      if (opened.length !== 5) return this.host.protocolError(peer, 'a sender key request of the wrong length');
      return this.host.senderKeyRequested(peer, new DataView(opened.buffer, opened.byteOffset, opened.byteLength).getUint32(1));
    }
    if (kind === Kind.stringAcked || kind === Kind.binaryAcked || kind === Kind.ack) {
      if (opened.length < 1 + ACK_ID_BYTES) return this.host.protocolError(peer, 'an acknowledgement record too short for its id');
      const id = new DataView(opened.buffer, opened.byteOffset, opened.byteLength).getUint32(1);
      if (kind === Kind.ack) return this.host.acknowledged(peer, id);
      const rest = opened.subarray(1 + ACK_ID_BYTES);
      if (kind === Kind.binaryAcked) this.host.deliver(peer, rest.slice());
      else {
        let text: string;
        try {
          text = decoder.decode(rest);
        } catch {
          return this.host.protocolError(peer, 'a string record that is not UTF-8');
        }
        this.host.deliver(peer, text);
      }
      // Handed to the application (its listeners ran): say so, sealed, so that nobody beneath can say it instead.
      if (!this.host.isOpen(peer)) return;
      const ack = new Uint8Array(1 + ACK_ID_BYTES);
      ack[0] = Kind.ack;
      new DataView(ack.buffer).setUint32(1, id);
      this.host.sendPairwise(peer, ack);
      return;
    }
    this.host.protocolError(peer, `a record of unknown kind ${kind}`);
  }

  /** The messages of one batch record, each as it would have come alone, in order. */
  private batch(peer: string, batch: Uint8Array): void {
    const view = new DataView(batch.buffer, batch.byteOffset, batch.byteLength);
    let at = 1;
    while (at < batch.length) {
      if (batch.length - at < BATCH_ENTRY_HEADER) return this.host.protocolError(peer, 'a batch record whose messages are cut short');
      const end = at + BATCH_ENTRY_HEADER + view.getUint32(at);
      if (end > batch.length || end === at + BATCH_ENTRY_HEADER) return this.host.protocolError(peer, 'a batch record whose messages are cut short');
      const plaintext = batch.subarray(at + BATCH_ENTRY_HEADER, end);
      at = end;
      if (plaintext[0] === Kind.batch) return this.host.protocolError(peer, 'a batch inside a batch');
      this.transport(peer, plaintext);
      // A listener may have closed the connection or destroyed the endpoint: the rest is not delivered.
      if (!this.host.isOpen(peer)) return;
    }
  }

  /** A group record's plaintext (opened under `peer`'s sender key): its messages, in order. */
  group(peer: string, opened: Uint8Array): void {
    const entries = groupEntries(opened);
    if (entries === null) return this.host.protocolError(peer, 'a group record whose messages are cut short');
    for (const { kind, body } of entries) {
      if (kind === Kind.binary) this.host.deliver(peer, body.slice());
      else if (kind === Kind.string) {
        let text: string;
        try {
          text = decoder.decode(body);
        } catch {
          return this.host.protocolError(peer, 'a string in a group record that is not UTF-8');
        }
        this.host.deliver(peer, text);
      } else return this.host.protocolError(peer, `a message of unknown kind ${kind} in a group record`);
      // A listener may have closed the connection or destroyed the endpoint: the rest is not delivered.
      if (!this.host.isOpen(peer)) return;
    }
  }
}
