/**
 * Where a SecureHub keeps the public key it pinned for each eva (trust on first use). `get` and `set` may be
 * synchronous or return promises (IndexedDB, a file, a server): the handshake waits for them.
 *
 * ```ts
 * // Browser: localStorage, keys as base64url text
 * const store: KeyStore = {
 *   get: (eva) => { const t = localStorage.getItem(`pin:${eva}`); return t ? base64urlDecode(t) : undefined; },
 *   set: (eva, key) => localStorage.setItem(`pin:${eva}`, base64urlEncode(key)),
 * };
 * ```
 */
export interface KeyStore {
  /** The key pinned for `eva`, or undefined when none is. */
  get(eva: string): Uint8Array | undefined | Promise<Uint8Array | undefined>;
  /** Pins `publicKey` for `eva` (first use, or an accepted change). */
  set(eva: string, publicKey: Uint8Array): void | Promise<void>;
}
