import { InBrowserHub } from '@vnf/in-browser-hub';
import { MultiplexHub } from '@vnf/multiplex-hub';
import { PeerStreams, type IncomingTransfer } from '@vnf/streams';
import { createHash } from 'node:crypto';

it('smoke', async () => {
  const hub = new MultiplexHub(new InBrowserHub());
  const a = new PeerStreams(hub.openEndpoint('a'));
  const b = new PeerStreams(hub.openEndpoint('b'));
  const data = new Uint8Array(10 * 1024 * 1024);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 255;
  const got = new Promise<IncomingTransfer>((resolve) => b.on('transfer', resolve));
  const t = a.send('b', data, { name: 'x.bin', header: { k: 1 } });
  const progress: number[] = [];
  t.on('progress', (p) => progress.push(p.bytes));
  const incoming = await got;
  expect(incoming.meta).toMatchObject({ from: 'a', name: 'x.bin', size: data.length, header: { k: 1 } });
  const bytes = await incoming.toUint8Array();
  const result = await t.done;
  expect(bytes.length).toBe(data.length);
  expect(result.sha256).toBe(createHash('sha256').update(data).digest('hex'));
  expect(progress.at(-1)).toBe(data.length);
  await a.close(); await b.close(); await hub.close();
});
