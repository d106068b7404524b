import { CipherState, KEY_LENGTH, TAG_LENGTH } from './CipherState';
import { GROUP_HEADER, Kind } from './records';
import { ReplayWindow } from './ReplayWindow';
import { SIGNATURE_LENGTH, VERIFY_KEY_LENGTH, verifierOf, type Verify } from './signing';

/** Sender keys kept per peer (its newest); an older one is wiped. */
export const MAX_KEYS_PER_PEER = 16;
/** A key a group record named and this endpoint lacks is asked for at most this often, ms. */
export const KEY_REQUEST_INTERVAL_MS = 500;

/** Why a group record was refused. */
export type GroupFault = 'short' | 'replay' | 'tag' | 'signature';

/** What the received keys need of their endpoint. */
export interface ReceivedKeysHost {
  /** Seals `plaintext` to `peer` under their pairwise session and sends it (best effort). */
  sendPairwise(peer: string, plaintext: Uint8Array): void;
}

interface HeldKey {
  readonly cipher: CipherState;
  readonly verify: Verify | null;
  readonly window: ReplayWindow;
}

/**
 * The sender keys peers handed this endpoint over their pairwise sessions, and the opening of their group records:
 * the signature first (when the key is signed: only the sender, not another holder of the key, can have made the
 * record), then the counter against a replay window (group records may be skipped for a slow member, never repeated),
 * then the AEAD. A record under a key not held is not an error: the key is asked for, at most every 500 ms.
 */
export class ReceivedKeys {
  private readonly byPeer = new Map<string, Map<number, HeldKey>>();
  private readonly asked = new Map<string, Map<number, number>>();

  constructor(
    private readonly replayWindow: number,
    private readonly host: ReceivedKeysHost,
  ) {}

  /** A `senderKey` plaintext from `peer`'s pairwise session; false when it is malformed. */
  add(peer: string, grant: Uint8Array): boolean {
    if (grant.length < 6 + KEY_LENGTH) return false;
    const signed = grant[5] === 1;
    if ((grant[5] !== 0 && !signed) || grant.length !== 6 + KEY_LENGTH + (signed ? VERIFY_KEY_LENGTH : 0)) return false;
    const id = new DataView(grant.buffer, grant.byteOffset, grant.byteLength).getUint32(1);
    let keys = this.byPeer.get(peer);
    if (!keys) this.byPeer.set(peer, (keys = new Map()));
    const cipher = new CipherState();
    cipher.initializeKey(grant.subarray(6, 6 + KEY_LENGTH));
    keys.get(id)?.cipher.clear();
    keys.delete(id);
    keys.set(id, { cipher, verify: signed ? verifierOf(grant.subarray(6 + KEY_LENGTH)) : null, window: new ReplayWindow(this.replayWindow) });
    while (keys.size > MAX_KEYS_PER_PEER) {
      const [oldest, held] = keys.entries().next().value as [number, HeldKey];
      held.cipher.clear();
      keys.delete(oldest);
    }
    this.asked.get(peer)?.delete(id);
    grant.fill(0);
    return true;
  }

  /** The plaintext of a group record from `peer`; 'unknown' when the key is not held (it was asked for); else the fault. */
  open(peer: string, record: Uint8Array): Uint8Array | GroupFault | 'unknown' {
    if (record.length < GROUP_HEADER + TAG_LENGTH) return 'short';
    const view = new DataView(record.buffer, record.byteOffset, record.byteLength);
    const id = view.getUint32(1);
    const counter = view.getBigUint64(5);
    const held = this.byPeer.get(peer)?.get(id);
    if (!held) {
      this.ask(peer, id);
      return 'unknown';
    }
    const end = record.length - (held.verify ? SIGNATURE_LENGTH : 0);
    if (end < GROUP_HEADER + TAG_LENGTH) return 'short';
    if (counter > BigInt(Number.MAX_SAFE_INTEGER) || !held.window.fresh(Number(counter))) return 'replay';
    if (held.verify && !held.verify(record.subarray(0, end), record.subarray(end))) return 'signature';
    held.cipher.setNonce(counter);
    const plaintext = held.cipher.decryptWithAd(record.subarray(0, GROUP_HEADER), record.subarray(GROUP_HEADER, end));
    if (plaintext === null) return 'tag';
    held.window.accept(Number(counter));
    return plaintext;
  }

  /** `peer`'s session ended: its keys go with it (a new session is handed them again). */
  forget(peer: string): void {
    for (const held of this.byPeer.get(peer)?.values() ?? []) held.cipher.clear();
    this.byPeer.delete(peer);
    this.asked.delete(peer);
  }

  clear(): void {
    for (const peer of [...this.byPeer.keys()]) this.forget(peer);
    this.asked.clear();
  }

  private ask(peer: string, id: number): void {
    let asked = this.asked.get(peer);
    if (!asked) this.asked.set(peer, (asked = new Map()));
    const now = Date.now();
    const last = asked.get(id);
    if (last !== undefined && now - last < KEY_REQUEST_INTERVAL_MS) return;
    // Records under ever new ids (forged beneath) must not make this endpoint send a request for each.
    let recent = 0;
    for (const at of asked.values()) if (now - at < KEY_REQUEST_INTERVAL_MS) recent++;
    if (recent >= MAX_KEYS_PER_PEER) return;
    asked.delete(id);
    asked.set(id, now);
    while (asked.size > MAX_KEYS_PER_PEER) asked.delete(asked.keys().next().value as number);
    const request = new Uint8Array(5);
    request[0] = Kind.senderKeyRequest;
    new DataView(request.buffer).setUint32(1, id);
    this.host.sendPairwise(peer, request);
  }
}
