import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { RtcHub } from '@vnf/rtc-hub';
import { WebSocketFactory, WebSocketHub } from '@vnf/websocket-hub';
import { startBroker } from './support/broker';
import { spawnPeer } from './support/peerProcess';
import { until } from './support/until';

let broker: Awaited<ReturnType<typeof startBroker>>;
beforeAll(async () => {
  broker = await startBroker();
});
afterAll(() => broker.stop());

it('a peer process killed with SIGKILL is reported through onConnectionLost', async () => {
  const hub = new RtcHub(new WebSocketHub(new WebSocketFactory(broker.url)), { iceTimeoutMs: 4000 });
  const parent = hub.openEndpoint('parent');
  const lost: string[] = [];
  parent.onConnectionLost((eva) => lost.push(eva));
  const echoes: unknown[] = [];
  parent.onMessage = (e) => echoes.push(e.message);
  const peer = await spawnPeer(broker.url, 'child', 'parent');
  try {
    expect(await peer.firstLine).toBe('CONNECTED');
    expect(parent.isConnected('child')).toBe(true);
    parent.send('child', 'hi');
    await until('the echo', 20_000, () => echoes.length > 0);
    expect(echoes).toEqual(['echo:hi']);
    const exited = new Promise((resolve) => peer.child.once('exit', resolve));
    peer.child.kill('SIGKILL');
    await exited;
    await until('connectionLost(child)', 40_000, () => lost.length > 0);
    expect(lost).toEqual(['child']);
  } finally {
    peer.child.kill('SIGKILL');
    peer.cleanup();
    await hub.close();
  }
}, 90_000);
