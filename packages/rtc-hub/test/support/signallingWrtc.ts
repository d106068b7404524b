import wrtc from '@roamhq/wrtc';
import type { WebRtcImplementation } from '@vnf/rtc-hub';

/** One data channel of a `signallingWrtc()`. */
export interface SignallingChannel {
  /** The `bufferedAmountLowThreshold` last set. */
  readonly threshold: number;
  /** How often `onbufferedamountlow` was assigned (simple-peer assigns it once). */
  readonly handlerAssignments: number;
  /** `bufferedamountlow` events fired. */
  readonly lowEvents: number;
  /** How often `bufferedAmount` was read (with @roamhq/wrtc each read is a call into WebRTC's signaling thread). */
  readonly bufferedReads: number;
}

export interface SignallingWrtc {
  impl: WebRtcImplementation;
  /** While true, nothing leaves the channels' buffers (a congested network). */
  paused: boolean;
  /** Lets the buffers flow again. */
  resume(): void;
  readonly channels: readonly SignallingChannel[];
}

type Data = string | ArrayBuffer | ArrayBufferView;

/**
 * The real @roamhq/wrtc, with data channels that behave like browsers' on the sending side: they have
 * `bufferedAmountLowThreshold` and fire `bufferedamountlow` (to listeners added with `addEventListener` and to
 * `onbufferedamountlow`) when `bufferedAmount` falls from above the threshold to at most it. @roamhq/wrtc has
 * neither, so what a channel is given to send waits in a buffer of this double, counted in `bufferedAmount`, and
 * is handed to the native channel one message per macrotask (setImmediate, no timer) while not `paused`.
 */
export function signallingWrtc(): SignallingWrtc {
  const pumps = new Set<() => void>();
  const channels: SignallingChannel[] = [];
  const control: SignallingWrtc = {
    impl: undefined as unknown as WebRtcImplementation,
    paused: false,
    resume(): void {
      control.paused = false;
      for (const pump of pumps) pump();
    },
    channels,
  };

  const signalling = (channel: RTCDataChannel): RTCDataChannel => {
    const waiting: Data[] = [];
    let buffered = 0;
    let scheduled = false;
    const state = { threshold: 0, handlerAssignments: 0, lowEvents: 0, bufferedReads: 0 };
    channels.push(state);
    const listeners = new Set<EventListenerOrEventListenerObject>();
    let handler: ((event: Event) => void) | null = null;
    const size = (data: Data): number => (typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength);
    const fireLow = (): void => {
      state.lowEvents++;
      const event = { type: 'bufferedamountlow', target: proxy } as unknown as Event;
      for (const listener of [...listeners]) {
        if (typeof listener === 'function') listener(event);
        else listener.handleEvent(event);
      }
      handler?.(event);
    };
    const pump = (): void => {
      if (scheduled || control.paused || waiting.length === 0) return;
      scheduled = true;
      setImmediate(() => {
        scheduled = false;
        if (control.paused || waiting.length === 0) return;
        const data = waiting.shift()!;
        const before = buffered;
        buffered -= size(data);
        if (channel.readyState === 'open') channel.send(data as ArrayBuffer);
        if (before > state.threshold && buffered <= state.threshold) fireLow();
        pump();
      });
    };
    pumps.add(pump);
    const proxy: RTCDataChannel = new Proxy(channel, {
      get(target, key) {
        switch (key) {
          case 'bufferedAmount':
            state.bufferedReads++;
            return buffered;
          case 'bufferedAmountLowThreshold':
            return state.threshold;
          case 'onbufferedamountlow':
            return handler;
          case 'send':
            return (data: Data) => {
              if (target.readyState !== 'open') return target.send(data as ArrayBuffer); // let the native channel throw
              waiting.push(data);
              buffered += size(data);
              pump();
            };
          case 'addEventListener':
            return (type: string, listener: EventListenerOrEventListenerObject) => {
              if (type === 'bufferedamountlow') listeners.add(listener);
              else target.addEventListener(type, listener);
            };
          case 'removeEventListener':
            return (type: string, listener: EventListenerOrEventListenerObject) => {
              if (type === 'bufferedamountlow') listeners.delete(listener);
              else target.removeEventListener(type, listener);
            };
          case 'close':
            return () => {
              pumps.delete(pump);
              waiting.length = 0;
              buffered = 0;
              target.close();
            };
        }
        const value: unknown = Reflect.get(target, key, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
      set(target, key, value) {
        if (key === 'bufferedAmountLowThreshold') state.threshold = Number(value);
        else if (key === 'onbufferedamountlow') {
          state.handlerAssignments++;
          handler = value as typeof handler;
        } else Reflect.set(target, key, value, target);
        return true;
      },
    });
    return proxy;
  };

  const Base = wrtc.RTCPeerConnection as unknown as typeof RTCPeerConnection;
  class SignallingPeerConnection extends Base {
    override createDataChannel(label: string, init?: RTCDataChannelInit): RTCDataChannel {
      return signalling(super.createDataChannel(label, init));
    }
    override dispatchEvent(event: Event): boolean {
      if (event.type !== 'datachannel') return super.dispatchEvent(event);
      const channel = signalling((event as RTCDataChannelEvent).channel);
      return super.dispatchEvent({ type: 'datachannel', channel, target: this } as unknown as Event);
    }
  }
  control.impl = {
    RTCPeerConnection: SignallingPeerConnection as unknown as typeof RTCPeerConnection,
    RTCSessionDescription: wrtc.RTCSessionDescription as unknown as typeof RTCSessionDescription,
    RTCIceCandidate: wrtc.RTCIceCandidate as unknown as typeof RTCIceCandidate,
  };
  return control;
}
