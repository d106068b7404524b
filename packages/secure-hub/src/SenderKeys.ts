import { createLogger } from '@vnf/core';
import { CipherState, KEY_LENGTH } from './CipherState';
import { GROUP_ENTRY_HEADER, GROUP_HEADER, Kind, RecordType, randomId } from './records';
import { generateSigningKey, type Sign } from './signing';

const log = createLogger('secure-hub');

/** Target sets whose sender key is kept; the least recently used one past this is wiped. */
export const MAX_SENDER_KEYS = 32;
/** A group record is sealed once its messages reach this many bytes, without waiting for the end of the turn. */
export const GROUP_BATCH_BYTES = 64 * 1024;

/** What the sender keys need of their endpoint. */
export interface SenderKeysHost {
  /** Seals `plaintext` to `peer` under their pairwise session and sends it; false when it cannot now. */
  sendPairwise(peer: string, plaintext: Uint8Array): boolean;
  /** One group record to each of `targets` in one multicast of the inner endpoint (the broker fans it out). */
  multicast(targets: readonly string[], record: Uint8Array): void;
  /** The group records of the turn left: bytes moved beneath, so an owed `drain` may be due. */
  flushed(): void;
}

export interface SenderKeyLimits {
  readonly signed: boolean;
  /** Limits of one key: past them the set gets a new one (as a session's REKEY). */
  readonly rekeyAfterMessages: number;
  readonly rekeyAfterBytes: number;
  /** The largest record the inner endpoint carries. */
  readonly maxRecordBytes: number;
}

interface SenderKey {
  readonly id: number;
  readonly cipher: CipherState;
  readonly sign: Sign | null;
  /** The `senderKey` plaintext that hands this key to a member of the set (over its pairwise session). */
  readonly grant: Uint8Array;
  /** The set, as a string (the map's key) and as members. */
  readonly name: string;
  readonly members: ReadonlySet<string>;
  /** Members that were handed this key on their current session. */
  readonly holders: Set<string>;
  counter: bigint;
  messages: number;
  bytes: number;
  retired: boolean;
  /** The messages of this turn not sealed yet, and the targets' list as the endpoint gave it. */
  batch: Uint8Array[];
  batchBytes: number;
  batchTargets: readonly string[];
}

/**
 * This endpoint's sender keys: one key for each set of targets it multicasts to, handed to each member over its
 * pairwise session before the first record under it, so that a multicast is one ciphertext the broker fans out. A
 * different set is a different key — a member that leaves never gets the key of the set without it, one that joins
 * never gets the key of the set before it — and a key is replaced after the session's rekey limits. The messages of
 * one turn to one set travel in one record (one seal and one signature for all of them).
 */
export class SenderKeys {
  private readonly bySet = new Map<string, SenderKey>();
  private readonly byId = new Map<number, SenderKey>();
  /** The last target list and its key: a room multicasts to the same list, often a new array of it, many times. */
  private last: { targets: readonly string[]; key: SenderKey } | null = null;
  private readonly pending: SenderKey[] = [];
  private flushScheduled = false;
  private closed = false;

  constructor(
    private readonly limits: SenderKeyLimits,
    private readonly host: SenderKeysHost,
  ) {}

  /** Whether a message of `bytes` bytes fits one group record (a larger one goes pairwise). */
  fits(bytes: number): boolean {
    return GROUP_HEADER + GROUP_ENTRY_HEADER + bytes + 16 + (this.limits.signed ? 64 : 0) <= this.limits.maxRecordBytes;
  }

  /** Queues one message for `targets` (connected, distinct, two or more); it leaves at the end of the turn. */
  multicast(targets: readonly string[], kind: number, body: Uint8Array): void {
    const key = this.keyFor(targets);
    const entry = GROUP_ENTRY_HEADER + body.length;
    if (key.batch.length > 0 && !this.fitsBatch(key, entry)) this.seal(key);
    const head = new Uint8Array(GROUP_ENTRY_HEADER);
    head[0] = kind;
    new DataView(head.buffer).setUint32(1, body.length);
    if (key.batch.length === 0) {
      key.batchTargets = targets;
      this.pending.push(key);
    }
    key.batch.push(head, body);
    key.batchBytes += entry;
    if (key.batchBytes >= GROUP_BATCH_BYTES) this.seal(key);
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  /** Bytes queued for the end of the turn that `peer` is a target of. */
  pendingBytes(peer: string): number {
    let bytes = 0;
    for (const key of this.pending) if (key.members.has(peer)) bytes += key.batchBytes;
    return bytes;
  }

  /** Seals and sends every queued batch now: before a pairwise message, so that order with `send` holds. */
  flush(): void {
    this.flushScheduled = false;
    if (this.pending.length === 0) return;
    while (this.pending.length > 0) this.seal(this.pending[0]);
    this.host.flushed();
  }

  /** `peer` asked for the key a group record named: handed again if it is a member of that key's set. */
  requested(peer: string, id: number): void {
    const key = this.byId.get(id);
    if (!key || key.retired || !key.members.has(peer)) return;
    if (this.host.sendPairwise(peer, key.grant)) key.holders.add(peer);
  }

  /** `peer`'s session ended: whatever it held went with it. */
  forget(peer: string): void {
    for (const key of this.bySet.values()) key.holders.delete(peer);
  }

  close(): void {
    this.closed = true;
    this.pending.length = 0;
    for (const key of this.bySet.values()) this.wipe(key);
    this.bySet.clear();
    this.byId.clear();
    this.last = null;
  }

  private fitsBatch(key: SenderKey, entry: number): boolean {
    return GROUP_HEADER + key.batchBytes + entry + 16 + (this.limits.signed ? 64 : 0) <= this.limits.maxRecordBytes;
  }

  private keyFor(targets: readonly string[]): SenderKey {
    const last = this.last;
    if (last !== null && !last.key.retired && sameList(last.targets, targets)) return last.key;
    const name = [...targets].sort().join('\n');
    let key = this.bySet.get(name);
    if (key) {
      this.bySet.delete(name); // most recently used last
      this.bySet.set(name, key);
    } else key = this.create(name, targets);
    this.last = { targets, key };
    return key;
  }

  private create(name: string, targets: readonly string[]): SenderKey {
    const secret = new Uint8Array(KEY_LENGTH);
    globalThis.crypto.getRandomValues(secret);
    let id = randomId();
    while (this.byId.has(id)) id = randomId();
    const signing = this.limits.signed ? generateSigningKey() : null;
    const grant = new Uint8Array(1 + 4 + 1 + KEY_LENGTH + (signing ? signing.verifyKey.length : 0));
    grant[0] = Kind.senderKey;
    new DataView(grant.buffer).setUint32(1, id);
    grant[5] = signing ? 1 : 0;
    grant.set(secret, 6);
    if (signing) grant.set(signing.verifyKey, 6 + KEY_LENGTH);
    const cipher = new CipherState();
    cipher.initializeKey(secret);
    secret.fill(0);
    const key: SenderKey = {
      id,
      cipher,
      sign: signing?.sign ?? null,
      grant,
      name,
      members: new Set(targets),
      holders: new Set(),
      counter: 0n,
      messages: 0,
      bytes: 0,
      retired: false,
      batch: [],
      batchBytes: 0,
      batchTargets: targets,
    };
    this.bySet.set(name, key);
    this.byId.set(id, key);
    while (this.bySet.size > MAX_SENDER_KEYS) {
      const oldest = this.bySet.values().next().value as SenderKey;
      this.retire(oldest);
    }
    return key;
  }

  /** Seals `key`'s batch into one record and multicasts it to the members that hold the key (handing it first). */
  private seal(key: SenderKey): void {
    const at = this.pending.indexOf(key);
    if (at >= 0) this.pending.splice(at, 1);
    const parts = key.batch;
    const length = key.batchBytes;
    key.batch = [];
    key.batchBytes = 0;
    if (this.closed || parts.length === 0) return;
    let holders: string[] | null = null;
    const targets = key.batchTargets;
    for (let i = 0; i < targets.length; i++) {
      const target = targets[i];
      let holds = key.holders.has(target);
      if (!holds && this.host.sendPairwise(target, key.grant)) {
        key.holders.add(target);
        holds = true;
      }
      if (!holds) holders ??= targets.slice(0, i);
      else if (holders !== null) holders.push(target);
    }
    const to = holders ?? targets;
    if (to.length === 0) {
      log('group record of %d bytes not sent: no target could be handed its key', length);
      return;
    }
    const plaintext = new Uint8Array(length);
    let offset = 0;
    for (const part of parts) {
      plaintext.set(part, offset);
      offset += part.length;
    }
    const counter = key.counter++;
    const header = new Uint8Array(GROUP_HEADER);
    header[0] = RecordType.group;
    const view = new DataView(header.buffer);
    view.setUint32(1, key.id);
    view.setBigUint64(5, counter);
    key.cipher.setNonce(counter);
    const ciphertext = key.cipher.encryptWithAd(header, plaintext);
    const signatureLength = key.sign ? 64 : 0;
    const record = new Uint8Array(GROUP_HEADER + ciphertext.length + signatureLength);
    record.set(header);
    record.set(ciphertext, GROUP_HEADER);
    if (key.sign) record.set(key.sign(record.subarray(0, GROUP_HEADER + ciphertext.length)), GROUP_HEADER + ciphertext.length);
    key.messages += parts.length / 2;
    key.bytes += length;
    if (key.messages >= this.limits.rekeyAfterMessages || key.bytes >= this.limits.rekeyAfterBytes) this.retire(key);
    try {
      this.host.multicast(to, record);
    } catch (err) {
      log('group record to %d targets not sent: %s', to.length, String(err));
    }
  }

  /** The set gets a new key at its next message; this one is wiped once its last batch left. */
  private retire(key: SenderKey): void {
    key.retired = true;
    if (this.bySet.get(key.name) === key) this.bySet.delete(key.name);
    this.byId.delete(key.id);
    if (key.batch.length > 0) this.seal(key);
    this.wipe(key);
  }

  private wipe(key: SenderKey): void {
    key.retired = true;
    key.cipher.clear();
    key.grant.fill(0);
    key.holders.clear();
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
