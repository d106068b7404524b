import { concat } from './HandshakeState';
import type { CipherState } from './CipherState';
import { fingerprint } from './Identity';
import { ReplayWindow } from './ReplayWindow';
import { TRANSPORT_HEADER, readTransportHeader, transportHeader } from './records';

/** How many epochs ahead an unordered receiver follows the sender's rekeys (whole epochs may be lost beneath it). */
const MAX_EPOCH_SKIP = 4;

/** What a session knows of the peer, as `SecureEndpoint.peerIdentity` shows it. */
export interface PeerIdentity {
  readonly eva: string;
  /** The peer's static public key, authenticated by the handshake (a copy). */
  readonly publicKey: Uint8Array;
  /** `fingerprint(publicKey)`: compare it with the one the peer's user reads out. */
  readonly fingerprint: string;
  /** The Noise handshake hash: the same on both sides of this session only (a channel binding). */
  readonly handshakeHash: Uint8Array;
}

export interface SessionLimits {
  readonly ordered: boolean;
  readonly replayWindow: number;
  readonly rekeyAfterMessages: number;
  readonly rekeyAfterBytes: number;
}

/** Why a record was refused. */
export type RecordFault = 'session' | 'sequence' | 'replay' | 'epoch' | 'tag' | 'short';

/**
 * One secure connection's transport phase: the two CipherStates of the handshake, the explicit counter of every
 * record, Noise REKEY every `rekeyAfterMessages` messages or `rekeyAfterBytes` bytes (the sender moves to the next
 * epoch; the epoch in the header tells the receiver), and the receiver's checks: exactly the next counter over an
 * ordered inner hub, a replay window over a lossy one.
 */
export class TransportSession {
  readonly peer: PeerIdentity;
  /** Times this side replaced its sending key. */
  rekeys = 0;
  private sendEpoch = 0;
  private sentInEpoch = 0;
  private bytesInEpoch = 0;
  private sendCounter = 0n;
  private receiveEpoch = 0;
  private previousReceive: CipherState | null = null;
  private nextCounter = 0n;
  private readonly window: ReplayWindow | null;

  constructor(
    readonly id: number,
    peerEva: string,
    remoteStatic: Uint8Array,
    handshakeHash: Uint8Array,
    private readonly sendCipher: CipherState,
    private receiveCipher: CipherState,
    private readonly limits: SessionLimits,
  ) {
    this.peer = Object.freeze({ eva: peerEva, publicKey: remoteStatic.slice(), fingerprint: fingerprint(remoteStatic), handshakeHash: handshakeHash.slice() });
    this.window = limits.ordered ? null : new ReplayWindow(limits.replayWindow);
  }

  /**
   * Encrypts one plaintext (carrying `messages` messages: a turn's batch carries several) into a transport record,
   * rekeying first when the epoch is used up or these messages would take it past `rekeyAfterMessages`.
   */
  seal(plaintext: Uint8Array, messages = 1): Uint8Array {
    const full = this.sentInEpoch >= this.limits.rekeyAfterMessages || this.bytesInEpoch >= this.limits.rekeyAfterBytes;
    if (full || (this.sentInEpoch > 0 && this.sentInEpoch + messages > this.limits.rekeyAfterMessages)) {
      this.sendCipher.rekey();
      this.sendEpoch++;
      this.rekeys++;
      this.sentInEpoch = 0;
      this.bytesInEpoch = 0;
    }
    const counter = this.sendCounter++;
    const header = transportHeader(this.id, this.sendEpoch, counter);
    this.sendCipher.setNonce(counter);
    const ciphertext = this.sendCipher.encryptWithAd(header, plaintext);
    this.sentInEpoch += messages;
    this.bytesInEpoch += plaintext.length;
    return concat([header, ciphertext]);
  }

  /**
   * Takes back the last `seal` whose record the inner endpoint refused (BUFFER_FULL, say), so the next record reuses
   * its counter and the receiver sees no gap. A rekey that `seal` made stays (the receiver follows a new epoch).
   */
  unseal(plaintextLength: number, messages = 1): void {
    this.sendCounter--;
    this.sentInEpoch = Math.max(0, this.sentInEpoch - messages);
    this.bytesInEpoch = Math.max(0, this.bytesInEpoch - plaintextLength);
  }

  /** Decrypts a transport record: its plaintext, or why it was refused (nothing changes then). */
  open(record: Uint8Array): Uint8Array | RecordFault {
    if (record.length < TRANSPORT_HEADER) return 'short';
    const { session, epoch, counter } = readTransportHeader(record);
    if (session !== this.id) return 'session';
    if (this.window === null) {
      if (counter !== this.nextCounter) return counter < this.nextCounter ? 'replay' : 'sequence';
    } else if (counter > BigInt(Number.MAX_SAFE_INTEGER) || !this.window.fresh(Number(counter))) return 'replay';
    const header = record.subarray(0, TRANSPORT_HEADER);
    const ciphertext = record.subarray(TRANSPORT_HEADER);
    let cipher: CipherState;
    let advance = 0;
    if (epoch === this.receiveEpoch) cipher = this.receiveCipher;
    else if (epoch === this.receiveEpoch - 1 && this.previousReceive !== null) cipher = this.previousReceive;
    else if (epoch > this.receiveEpoch && epoch - this.receiveEpoch <= (this.window === null ? 1 : MAX_EPOCH_SKIP)) {
      // A rekey: tried on a copy, and kept only if the record authenticates under it (a forged epoch changes nothing).
      cipher = this.receiveCipher.clone();
      advance = epoch - this.receiveEpoch;
      for (let i = 0; i < advance; i++) cipher.rekey();
    } else return 'epoch';
    cipher.setNonce(counter);
    const plaintext = cipher.decryptWithAd(header, ciphertext);
    if (plaintext === null) return 'tag';
    if (advance > 0) {
      this.previousReceive = advance === 1 && this.window !== null ? this.receiveCipher : null;
      if (this.previousReceive === null) this.receiveCipher.clear();
      this.receiveCipher = cipher;
      this.receiveEpoch = epoch;
    }
    if (this.window === null) this.nextCounter = counter + 1n;
    else this.window.accept(Number(counter));
    return plaintext;
  }

  /** Wipes both keys. */
  clear(): void {
    this.sendCipher.clear();
    this.receiveCipher.clear();
    this.previousReceive?.clear();
  }
}
