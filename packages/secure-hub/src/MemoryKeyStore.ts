import { VnfError } from '@vnf/core';
import type { KeyStore } from './KeyStore';

/** The default KeyStore: pins in a Map, for the life of the process (or page). */
export class MemoryKeyStore implements KeyStore {
  private readonly keys = new Map<string, Uint8Array>();

  get(eva: string): Uint8Array | undefined {
    return this.keys.get(eva)?.slice();
  }

  set(eva: string, publicKey: Uint8Array): void {
    if (!(publicKey instanceof Uint8Array)) throw new VnfError('INVALID_ARGUMENT', 'MemoryKeyStore.set takes a public key as a Uint8Array.');
    this.keys.set(eva, publicKey.slice());
  }

  /** Forgets the pin of `eva` (its next key is trusted on first use again). */
  delete(eva: string): void {
    this.keys.delete(eva);
  }

  /** The evas pinned. */
  evas(): string[] {
    return [...this.keys.keys()];
  }
}
