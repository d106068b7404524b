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

/** What collectBlob gathers before it folds the parts into the Blob (so the page does not hold them twice). */
const BLOB_FOLD_BYTES = 16 * 1024 * 1024;

/**
 * Reads a stream of bytes into a Blob, folding what arrived into it every 16 MiB: the chunks can go as soon as the
 * Blob holds them (browsers keep a large Blob on disk rather than in the page's memory). Rejects INVALID_ARGUMENT
 * past `maxBytes` (default: no limit) and cancels the stream; rejects what the stream errors with.
 */
export async function collectBlob(readable: ReadableStream<Uint8Array>, type = '', options: { maxBytes?: number } = {}): Promise<Blob> {
  const maxBytes = options.maxBytes ?? Infinity;
  let blob = new Blob([], { type });
  let parts: Uint8Array[] = [];
  let partBytes = 0;
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
      parts.push(value);
      partBytes += value.byteLength;
      if (partBytes >= BLOB_FOLD_BYTES) {
        blob = new Blob([blob, ...(parts as BlobPart[])], { type });
        parts = [];
        partBytes = 0;
      }
    }
  } finally {
    reader.releaseLock();
  }
  return parts.length === 0 ? blob : new Blob([blob, ...(parts as BlobPart[])], { type });
}
