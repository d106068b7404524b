import { option, optionsSchema, DEFAULT_CONNECT_TIMEOUT_MS } from '@vnf/core';
import { isIdentity, type Identity } from './Identity';
import type { KeyStore } from './KeyStore';
import { MemoryKeyStore } from './MemoryKeyStore';

/** Options of a SecureHub. `identity` is required; an unknown or invalid option throws INVALID_ARGUMENT. */
export interface SecureHubOptions {
  /** This hub's long-term identity (`Identity.generate()`, or `Identity.import(saved)`). Required. */
  identity: Identity;
  /**
   * Where the keys pinned for peers' evas are kept.
   * @default a new MemoryKeyStore (pins last as long as the hub)
   */
  keyStore?: KeyStore;
  /**
   * Pin the key of an eva seen for the first time (trust on first use). With false, only evas already pinned in
   * `keyStore` connect; any other ends in FAILED with reason KEY_MISMATCH.
   * @default true
   */
  trustOnFirstUse?: boolean;
  /**
   * When a pinned eva presents a different key: false refuses the connection (FAILED, reason KEY_MISMATCH; the
   * peer's side is refused too); true accepts the new key and pins it. `keyChanged` fires either way.
   * @default false
   */
  acceptKeyChange?: boolean;
  /**
   * The inner hub delivers in order, each message once (InBrowserHub, WebSocketHub, RtcHub, ReliableHub): any
   * record out of sequence, repeated or failing its tag ends the connection with INTEGRITY. Set false over a hub
   * that loses, duplicates or reorders (UnreliableHub, a lossy path): records are then accepted within a sliding
   * replay window and bad ones dropped and counted (`integrityDrops`).
   * @default true
   */
  ordered?: boolean;
  /**
   * Records (over `ordered: false`) a receiver remembers below the highest it accepted; an older one is dropped.
   * @default 1024
   */
  replayWindow?: number;
  /**
   * Each direction's key is replaced by Noise REKEY after this many messages, so a key later stolen from memory
   * opens at most this many.
   * @default 65536
   */
  rekeyAfterMessages?: number;
  /**
   * … or after this many bytes of plaintext, whichever comes first.
   * @default 67108864 (64 MiB)
   */
  rekeyAfterBytes?: number;
  /**
   * How a multicast (`endpoint.multicast`, a Room's broadcast) to two or more targets is encrypted. `'signed'`: one
   * record for all of them under this endpoint's sender key of that target set, handed to each target over its
   * pairwise session, and signed (Ed25519) so that no other holder of the key can forge it; the broker fans out one
   * ciphertext. `'unsigned'`: the same without the signature (cheaper; a member colluding with the broker could then
   * forge this endpoint's multicasts to the other members). `'off'`: one pairwise record per target, as `send`.
   * @default 'signed'
   */
  senderKeys?: SenderKeyMode;
  /**
   * How long `openConnection` waits for the inner connection and the handshake, ms.
   * @default 10000
   */
  connectTimeoutMs?: number;
}

export type SenderKeyMode = 'signed' | 'unsigned' | 'off';

export const DEFAULT_REPLAY_WINDOW = 1024;
export const DEFAULT_REKEY_AFTER_MESSAGES = 65_536;
export const DEFAULT_REKEY_AFTER_BYTES = 64 * 1024 * 1024;

/** Options after defaults and validation. */
export interface SecureConfig {
  readonly identity: Identity;
  readonly keyStore: KeyStore;
  readonly trustOnFirstUse: boolean;
  readonly acceptKeyChange: boolean;
  readonly ordered: boolean;
  readonly replayWindow: number;
  readonly rekeyAfterMessages: number;
  readonly rekeyAfterBytes: number;
  readonly senderKeys: SenderKeyMode;
  readonly connectTimeoutMs: number;
}

const isKeyStore = (value: unknown): value is KeyStore =>
  typeof value === 'object' && value !== null && typeof (value as KeyStore).get === 'function' && typeof (value as KeyStore).set === 'function';

const SCHEMA = optionsSchema(
  'SecureHub',
  {
    identity: option.custom<Identity>({ check: isIdentity, expected: 'an Identity (Identity.generate() or Identity.import(saved))' }),
    keyStore: option.custom<KeyStore>({ check: isKeyStore, expected: 'a KeyStore (an object with get(eva) and set(eva, key))' }),
    trustOnFirstUse: option.boolean({ default: true }),
    acceptKeyChange: option.boolean({ default: false }),
    ordered: option.boolean({ default: true }),
    replayWindow: option.integer({ min: 32, max: 65_536, default: DEFAULT_REPLAY_WINDOW }),
    rekeyAfterMessages: option.integer({ min: 1, default: DEFAULT_REKEY_AFTER_MESSAGES }),
    rekeyAfterBytes: option.integer({ min: 1, default: DEFAULT_REKEY_AFTER_BYTES }),
    senderKeys: option.enum(['signed', 'unsigned', 'off'] as const, { default: 'signed' as SenderKeyMode }),
    connectTimeoutMs: option.number({ above: 0, default: DEFAULT_CONNECT_TIMEOUT_MS }),
  },
  {
    derive: (resolved): SecureConfig => ({ ...resolved, identity: resolved.identity!, keyStore: resolved.keyStore ?? new MemoryKeyStore() }),
    check: (config) =>
      config.identity === undefined ? 'option "identity" is required: pass { identity: Identity.generate() } or an imported one.' : undefined,
  },
);

export function resolveOptions(options: unknown): SecureConfig {
  return SCHEMA.resolve(options);
}
