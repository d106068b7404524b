import { isBinary, payloadByteLength, validateWirePayload, type Payload } from '@vnf/core';

/** String.prototype.isWellFormed (ES2024: Node 20, current browsers); where it is missing, validateWirePayload checks. */
const isWellFormed = (String.prototype as { isWellFormed?: (this: string) => boolean }).isWellFormed;

/**
 * Checks `payload` by the wire hubs' rule (validateWirePayload: INVALID_PAYLOAD, TOO_LARGE at the call) and returns
 * its size in bytes. A string is measured once, for the check and the send buffer's count alike: each measure is a
 * scan of the whole string.
 */
export function measurePayload(payload: unknown, maxBytes: number): number {
  const valid = typeof payload === 'string' ? isWellFormed !== undefined && isWellFormed.call(payload) : isBinary(payload);
  if (valid) {
    const size = payloadByteLength(payload as Payload);
    if (size <= maxBytes) return size;
  }
  // The rule's own error; without a native isWellFormed, its own check of a valid string too.
  validateWirePayload(payload, maxBytes);
  return payloadByteLength(payload);
}
