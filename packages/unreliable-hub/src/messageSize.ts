import { isBinary, utf8Length } from '@vnf/core';

/**
 * Bytes a message occupies, for the bandwidth cap and `bufferedAmount`. Wire payloads are exact;
 * anything else (an UnreliableHub over a layer that carries JSON) is estimated by its JSON text.
 */
export function messageSize(message: unknown): number {
  if (typeof message === 'string') return utf8Length(message);
  if (isBinary(message)) return message.byteLength;
  try {
    return utf8Length(JSON.stringify(message) ?? '');
  } catch {
    return 0;
  }
}
