import { VnfError } from '@vnf/core';

export const DEFAULT_COLLECT_MAX_BYTES = 256 * 1024 * 1024;

/** What collectBlob gathers before it folds the parts into the Blob (so the page does not hold them twice). */
const BLOB_FOLD_BYTES = 16 * 1024 * 1024;

/**
 * Reads every chunk of a stream of bytes into `take`; past `maxBytes` it cancels the stream and rejects
 * INVALID_ARGUMENT, so a peer cannot make the caller hold more than it allowed. Rejects what the stream errors with.
 */
async function readAll(readable: ReadableStream<Uint8Array>, maxBytes: number, take: (chunk: Uint8Array) => void): Promise<void> {
  let total = 0;
  const reader = readable.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      total += value.byteLength;
      if (total > maxBytes) {
        const error = new VnfError('INVALID_ARGUMENT', `The stream is longer than maxBytes (${maxBytes}): read it as a stream, or raise maxBytes.`);
        await reader.cancel(error.message);
        throw error;
      }
      take(value);
    }
  } finally {
    reader.releaseLock();
  }
}

/** Reads a stream of bytes into one Uint8Array, at most `maxBytes` (default 256 MiB). */
export async function collectBytes(readable: ReadableStream<Uint8Array>, options: { maxBytes?: number } = {}): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  await readAll(readable, options.maxBytes ?? DEFAULT_COLLECT_MAX_BYTES, (chunk) => {
    chunks.push(chunk);
    total += chunk.byteLength;
  });
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

/**
 * Reads a stream of bytes into a Blob, folding what arrived into it every 16 MiB: the chunks can go as soon as the
 * Blob holds them (browsers keep a large Blob on disk rather than in the page's memory). At most `maxBytes` (default:
 * no limit).
 */
export async function collectBlob(readable: ReadableStream<Uint8Array>, type = '', options: { maxBytes?: number } = {}): Promise<Blob> {
  let blob = new Blob([], { type });
  let parts: Uint8Array[] = [];
  let partBytes = 0;
  await readAll(readable, options.maxBytes ?? Infinity, (chunk) => {
    parts.push(chunk);
    partBytes += chunk.byteLength;
    if (partBytes < BLOB_FOLD_BYTES) return;
    blob = new Blob([blob, ...(parts as BlobPart[])], { type });
    parts = [];
    partBytes = 0;
  });
  return parts.length === 0 ? blob : new Blob([blob, ...(parts as BlobPart[])], { type });
}
