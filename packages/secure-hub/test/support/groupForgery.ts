import type { Endpoint } from '@vnf/core';
import { CipherState } from '../../src/CipherState';
import { GROUP_ENTRY_HEADER, GROUP_HEADER, Kind, RecordType } from '../../src/records';

interface HeldKeyLike {
  cipher: CipherState;
}
interface SecureInternals {
  received: { byPeer: Map<string, Map<number, HeldKeyLike>> };
}

/** The SecureEndpoint in a stack of decorators (each keeps the one beneath as `inner`). */
function secureEndpointOf(endpoint: Endpoint): SecureInternals {
  let at: unknown = endpoint;
  while (at && typeof at === 'object') {
    if ('received' in at && 'senders' in at) return at as SecureInternals;
    at = (at as { inner?: unknown }).inner;
  }
  throw new Error('no SecureEndpoint in this stack');
}

/**
 * What the integrity suite needs of SecureHub's sender keys: which records are group records, and the record a member
 * could make with the group key it was handed (valid under the key's AEAD; it cannot make the sender's signature, so
 * the signature is random bytes).
 */
export const secureGroups = {
  isGroupRecord: (record: Uint8Array): boolean => record[0] === RecordType.group,
  forge(member: Endpoint, senderEva: string, message: string): Uint8Array {
    const keys = secureEndpointOf(member).received.byPeer.get(senderEva);
    const newest = keys ? [...keys.entries()].pop() : undefined;
    if (!newest) throw new Error(`${member.eva} holds no sender key of ${senderEva}`);
    const [id, held] = newest;
    const body = new TextEncoder().encode(message);
    const plaintext = new Uint8Array(GROUP_ENTRY_HEADER + body.length);
    plaintext[0] = Kind.string;
    new DataView(plaintext.buffer).setUint32(1, body.length);
    plaintext.set(body, GROUP_ENTRY_HEADER);
    const header = new Uint8Array(GROUP_HEADER);
    header[0] = RecordType.group;
    new DataView(header.buffer).setUint32(1, id);
    new DataView(header.buffer).setBigUint64(5, 1_000_000n); // ahead of anything the sender used: fresh in the window
    const cipher = (held.cipher as unknown as { clone(): CipherState }).clone();
    cipher.setNonce(1_000_000n);
    const ciphertext = cipher.encryptWithAd(header, plaintext);
    const signature = globalThis.crypto.getRandomValues(new Uint8Array(64));
    const record = new Uint8Array(GROUP_HEADER + ciphertext.length + 64);
    record.set(header);
    record.set(ciphertext, GROUP_HEADER);
    record.set(signature, GROUP_HEADER + ciphertext.length);
    return record;
  },
};
