import { collectBlob, collectBytes } from '@vnf/streams';

function streamOf(chunks: number, chunkBytes: number): { readable: ReadableStream<Uint8Array>; cancelled: () => boolean } {
  let sent = 0;
  let cancelled = false;
  const readable = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent === chunks) return controller.close();
      controller.enqueue(new Uint8Array(chunkBytes).fill(sent++ & 255));
    },
    cancel() {
      cancelled = true;
    },
  });
  return { readable, cancelled: () => cancelled };
}

describe('collectBytes, collectBlob', () => {
  it('collect every byte in order (a Blob folded every 16 MiB along the way)', async () => {
    const blob = await collectBlob(streamOf(40, 1024 * 1024).readable, 'application/x-test');
    expect(blob.size).toBe(40 * 1024 * 1024);
    expect(blob.type).toBe('application/x-test');
    const bytes = new Uint8Array(await blob.arrayBuffer());
    for (let i = 0; i < 40; i++) expect(bytes[i * 1024 * 1024]).toBe(i);
    const joined = await collectBytes(streamOf(3, 10).readable);
    expect([...joined]).toEqual([...new Uint8Array(10).fill(0), ...new Uint8Array(10).fill(1), ...new Uint8Array(10).fill(2)]);
  });

  it('past maxBytes they cancel the stream and reject INVALID_ARGUMENT', async () => {
    for (const collect of [collectBytes, (r: ReadableStream<Uint8Array>, o: { maxBytes: number }) => collectBlob(r, '', o)]) {
      const source = streamOf(10, 100);
      await expect(collect(source.readable, { maxBytes: 550 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      expect(source.cancelled()).toBe(true);
    }
  });
});
