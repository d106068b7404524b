// The service conformance suite over real WebRTC (@roamhq/wrtc, loopback only, no STUN) signalled through a real
// broker on 127.0.0.1: MultiplexHub(MarshallerHub(ReliableRtcHub(WebSocketHub))), which carries binary too.
import { afterAll, beforeAll } from '@jest/globals';
import wrtc from '@roamhq/wrtc';
import { Broker } from '@vnf/broker';
import { serviceConformance } from '@vnf/conformance';
import type { MultiplexingEndpoint, RegistryClient } from '@vnf/core';
import { MarshallerHub } from '@vnf/marshaller-hub';
import { MultiplexHub } from '@vnf/multiplex-hub';
import { WebSocketRegistryClient } from '@vnf/registry';
import { ReliableRtcHub, type WebRtcImplementation } from '@vnf/rtc-hub';
import { PeerServices } from '@vnf/services';
import { WebSocketFactory, WebSocketHub, type VnfSocket } from '@vnf/websocket-hub';

const GRACE_MS = 300;
/** Lowered from the defaults so that a killed peer is noticed in seconds: silence for heartbeatTimeoutMs, then restoring for restoreTimeoutMs. */
const RTC = { iceTimeoutMs: 1500, connectTimeoutMs: 5000 };
const RELIABLE = { heartbeatIntervalMs: 200, heartbeatTimeoutMs: 1000, restoreTimeoutMs: 2000 };

let broker: Broker;
let url: string;
beforeAll(async () => {
  broker = new Broker({ evaGraceMs: GRACE_MS });
  ({ url } = await broker.listen({ port: 0, host: '127.0.0.1' }));
});
afterAll(() => broker.close());

const NOWHERE = new WebSocketFactory('ws://127.0.0.1:1/');

class GatedFactory extends WebSocketFactory {
  blocked = false;

  override create(): VnfSocket {
    return this.blocked ? NOWHERE.create() : super.create();
  }
}

/**
 * The real @roamhq/wrtc of one peer, which `kill()` silences: its data channels neither send nor deliver from then on,
 * without closing (a process killed with kill -9 whose peer hears nothing more; its ICE is not the one that notices).
 */
function killableWrtc(): { impl: WebRtcImplementation; kill(): void } {
  let killed = false;
  const silenceable = (channel: RTCDataChannel): RTCDataChannel => {
    let handler: ((event: MessageEvent) => void) | null = null;
    Object.defineProperty(channel, 'onmessage', {
      configurable: true,
      get: () => handler && ((event: MessageEvent) => (killed ? undefined : handler?.(event))),
      set: (fn: ((event: MessageEvent) => void) | null) => {
        handler = fn;
      },
    });
    const send = channel.send.bind(channel) as (data: unknown) => void;
    Object.defineProperty(channel, 'send', { configurable: true, value: (data: unknown) => (killed ? undefined : send(data)) });
    return channel;
  };
  const Base = wrtc.RTCPeerConnection as unknown as typeof RTCPeerConnection;
  class KillablePeerConnection extends Base {
    override createDataChannel(label: string, init?: RTCDataChannelInit): RTCDataChannel {
      return silenceable(super.createDataChannel(label, init));
    }
    override dispatchEvent(event: Event): boolean {
      if (event.type === 'datachannel') silenceable((event as RTCDataChannelEvent).channel);
      return super.dispatchEvent(event);
    }
  }
  return {
    impl: {
      RTCPeerConnection: KillablePeerConnection as unknown as typeof RTCPeerConnection,
      RTCSessionDescription: wrtc.RTCSessionDescription as unknown as typeof RTCSessionDescription,
      RTCIceCandidate: wrtc.RTCIceCandidate as unknown as typeof RTCIceCandidate,
    },
    kill: () => {
      killed = true;
    },
  };
}

serviceConformance('PeerServices over MultiplexHub(MarshallerHub(ReliableRtcHub(WebSocketHub))) through a real broker', {
  createNetwork: () => {
    const peers = new Map<string, { hub: MultiplexHub; factory: GatedFactory; registry: RegistryClient; rtc: ReturnType<typeof killableWrtc> }>();
    return {
      open(eva: string) {
        const factory = new GatedFactory(url, { reconnect: { initialDelayMs: 20, maxDelayMs: 200 } });
        const webSocketHub = new WebSocketHub(factory);
        const rtc = killableWrtc();
        const hub = new MultiplexHub(new MarshallerHub(new ReliableRtcHub(webSocketHub, { rtc: { ...RTC, wrtc: rtc.impl }, reliable: RELIABLE })));
        const endpoint = hub.openEndpoint(eva);
        const registry = new WebSocketRegistryClient(webSocketHub.openEndpoint(eva).getWebSocketRpc());
        peers.set(eva, { hub, factory, registry, rtc });
        return { endpoint, registry };
      },
      kill(eva: string) {
        // Its data channels fall silent, its socket is cut on the broker's side and never comes back.
        const peer = peers.get(eva)!;
        peer.rtc.kill();
        peer.factory.blocked = true;
        broker.terminate(eva);
      },
      async close() {
        for (const peer of peers.values()) {
          await peer.registry.close().catch(() => undefined);
          await peer.hub.close();
        }
      },
    };
  },
  createServices: (endpoint: MultiplexingEndpoint, options: { registry: RegistryClient; maxPendingCalls?: number }) => new PeerServices(endpoint, options),
  carriesBinary: true,
  timeoutMs: 10_000,
  lossBoundMs: RELIABLE.heartbeatTimeoutMs + RELIABLE.restoreTimeoutMs + RTC.connectTimeoutMs + 2_000,
});
