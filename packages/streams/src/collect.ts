import { VnfError } from '@vnf/core';

export const DEFAULT_COLLECT_MAX_BYTES = 256 * 1024 * 1024;

/**
 * Reads a stream of bytes into one Uint8Array. Rejects INVALID_ARGUMENT once more than `maxBytes` arrived (and
 * cancels the stream), so a peer cannot make this hold more than you allowed; rejects what the stream errors with.
 */
export async function collectBytes(readable: ReadableStream<Uint8Array>, options: { maxBytes?: number } = {}): Promise<Uint8Array> {
  const maxBytes = options.maxBytes ?? DEFAULT_COLLECT_MAX_BYTES;
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = readable.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        const error = new VnfError('INVALID_ARGUMENT', `The stream is longer than maxBytes (${maxBytes}): read it as a stream, or raise maxBytes.`);
        await reader.cancel(error.message);
        throw error;
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

/** Reads a stream of bytes into a Blob (browsers may keep a large Blob on disk rather than in memory). */
export async function collectBlob(readable: ReadableStream<Uint8Array>, type = ''): Promise<Blob> {
  const parts: Uint8Array[] = [];
  const reader = readable.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  return new Blob(parts as BlobPart[], { type });
}
