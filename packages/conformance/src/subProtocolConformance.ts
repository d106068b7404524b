import { afterEach, describe, expect, it } from '@jest/globals';
import { ConnectionStatus, VnfError } from '@vnf/core';
import type { Endpoint, Hub, MessageEvent, MultiplexingEndpoint, SubProtocolChannel } from '@vnf/core';
import { uniqueEva, until, waitFor } from './waiting';

export interface SubProtocolConformanceSetup {
  /** Creates a fresh hub for one test; its endpoints must reach each other. The suite closes it. */
  createHub(): Hub<MultiplexingEndpoint> | Promise<Hub<MultiplexingEndpoint>>;
  /** Runs after each test, after the suite closed the hubs it created. */
  afterEach?(): Promise<void> | void;
  /** `wire`: strings and binary only (the default). `json`: any JSON value too (over a MarshallerHub). */
  payloads?: 'wire' | 'json';
  /** How long to wait for an expected event, ms. Default 5000. */
  timeoutMs?: number;
  /** Messages sent on each channel in the ordering test. Default 100. */
  messageCount?: number;
}

/** A received message as the suite compares it: binary as its bytes, whatever view it arrived in. */
function comparable(message: unknown): unknown {
  return message instanceof Uint8Array ? { bytes: Array.from(message) } : message;
}

/**
 * Registers jest tests that any hub carrying sub-protocols beside the app's messages must pass: the app and each
 * sub-protocol see only their own messages, in order, from the right peer, and connection loss reaches them all.
 */
export function subProtocolConformance(name: string, setup: SubProtocolConformanceSetup): void {
  const timeoutMs = setup.timeoutMs ?? 5000;
  const messageCount = setup.messageCount ?? 100;
  const json = setup.payloads === 'json';
  const testTimeout = timeoutMs * 6;

  describe(`${name} — sub-protocol conformance`, () => {
    const hubs: Hub[] = [];

    async function newHub(): Promise<Hub<MultiplexingEndpoint>> {
      const hub = await setup.createHub();
      hubs.push(hub);
      return hub;
    }

    afterEach(async () => {
      const open = hubs.splice(0);
      await Promise.all(open.map((hub) => hub.close().catch(() => undefined)));
      await setup.afterEach?.();
    });

    /** Every message the app of `endpoint` receives (its `message` event), comparable. */
    function appInbox(endpoint: Endpoint): MessageEvent[] {
      const got: MessageEvent[] = [];
      endpoint.on('message', (event) => got.push({ sourceEva: event.sourceEva, message: comparable(event.message) }));
      return got;
    }

    /** Every message `channel` receives (its `onMessage`), comparable. */
    function channelInbox(channel: SubProtocolChannel): MessageEvent[] {
      const got: MessageEvent[] = [];
      channel.onMessage = (event) => got.push({ sourceEva: event.sourceEva, message: comparable(event.message) });
      return got;
    }

    async function connected(a: Endpoint, b: Endpoint): Promise<void> {
      expect(await a.openConnection(b.eva)).toEqual({ status: ConnectionStatus.CONNECTED, targetEva: b.eva });
    }

    /** An app message a→b and one back: what a and b sent before it has been handled by then. */
    async function barrier(a: Endpoint, b: Endpoint, tag: string): Promise<void> {
      const back = waitFor<void>(`barrier ${tag}`, timeoutMs, (done) => {
        const onA = (e: MessageEvent): void => {
          if (e.sourceEva === b.eva && e.message === `${tag}:back`) {
            a.off('message', onA);
            done();
          }
        };
        a.on('message', onA);
      });
      const onB = (e: MessageEvent): void => {
        if (e.sourceEva === a.eva && e.message === `${tag}:there`) {
          b.off('message', onB);
          b.send(a.eva, `${tag}:back`);
        }
      };
      b.on('message', onB);
      a.send(b.eva, `${tag}:there`);
      await back;
    }

    const withoutBarriers = (events: MessageEvent[]): MessageEvent[] =>
      events.filter((e) => !(typeof e.message === 'string' && /^barrier-\w+:(there|back)$/.test(e.message)));

    function expectVnfError(fn: () => unknown, code: string): void {
      let thrown: unknown;
      try {
        fn();
      } catch (err) {
        thrown = err;
      }
      expect(VnfError.is(thrown)).toBe(true);
      expect((thrown as VnfError).code).toBe(code);
    }

    // Messages of the app that look like sub-protocol frames, and the reverse: each must land where it was sent.
    const appSamples: unknown[] = ['plain', '', '\u0001ping\u0000posing as ping', '\u0000', Uint8Array.of(1, 4, 112, 105, 110, 103, 9), Uint8Array.of(0), new Uint8Array(0)];
    const pingSamples: unknown[] = ['ping?', '', '\u0000posing as the app', Uint8Array.of(0, 1, 2), new Uint8Array(0)];
    if (json) {
      appSamples.push([1, 'ping', 'posing as ping'], [0, 'nested'], { k: [1, 'two'] }, null, 7);
      pingSamples.push([0, 'posing as the app'], { nested: { bytes: Uint8Array.of(5) } }, false);
    }
    const expected = (samples: unknown[], sourceEva: string): MessageEvent[] =>
      samples.map((message) => ({ sourceEva, message: comparable(message) }));

    it('app and sub-protocol messages are kept apart both ways: the app never sees a sub-protocol message, nor a sub-protocol an app message', async () => {
      const hub = await newHub();
      const a = hub.openEndpoint(uniqueEva('a'));
      const b = hub.openEndpoint(uniqueEva('b'));
      const pingA = a.subProtocol('ping');
      const pingB = b.subProtocol('ping');
      const appAtA = appInbox(a);
      const appAtB = appInbox(b);
      const pingAtA = channelInbox(pingA);
      const pingAtB = channelInbox(pingB);
      await connected(a, b);
      for (let i = 0; i < Math.max(appSamples.length, pingSamples.length); i++) {
        if (i < appSamples.length) a.send(b.eva, appSamples[i]);
        if (i < pingSamples.length) pingA.send(b.eva, pingSamples[i]);
        if (i < pingSamples.length) pingB.send(a.eva, pingSamples[i]);
        if (i < appSamples.length) b.send(a.eva, appSamples[i]);
      }
      // The app's messages first: the barriers then flush every sub-protocol message sent before them.
      await until('the app messages at a and b', timeoutMs * 2, () => appAtB.length >= appSamples.length && appAtA.length >= appSamples.length);
      await barrier(a, b, 'barrier-ab');
      await barrier(b, a, 'barrier-ba');
      expect(withoutBarriers(appAtB)).toEqual(expected(appSamples, a.eva));
      expect(withoutBarriers(appAtA)).toEqual(expected(appSamples, b.eva));
      await until('the ping messages at a and b', timeoutMs, () => pingAtB.length >= pingSamples.length && pingAtA.length >= pingSamples.length);
      expect(pingAtB).toEqual(expected(pingSamples, a.eva));
      expect(pingAtA).toEqual(expected(pingSamples, b.eva));
    }, testTimeout);

    it(`several sub-protocols at once: each gets its own messages, in the order sent, each exactly once (${messageCount} each)`, async () => {
      const hub = await newHub();
      const a = hub.openEndpoint(uniqueEva('a'));
      const b = hub.openEndpoint(uniqueEva('b'));
      const names = ['rooms', 'e2e', 'services'];
      const atA = names.map((n) => a.subProtocol(n));
      const atB = names.map((n) => channelInbox(b.subProtocol(n)));
      const appAtB = appInbox(b);
      await connected(a, b);
      for (let i = 0; i < messageCount; i++) {
        a.send(b.eva, `app${i}`);
        atA.forEach((channel, c) => channel.send(b.eva, i % 10 === 9 ? new TextEncoder().encode(`${names[c]}${i}`) : `${names[c]}${i}`));
      }
      await until(`${messageCount} messages on every channel`, timeoutMs * 2, () => appAtB.length >= messageCount && atB.every((got) => got.length >= messageCount));
      await barrier(a, b, 'barrier-order');
      const text = (m: unknown): string => (typeof m === 'string' ? m : new TextDecoder().decode(Uint8Array.from((m as { bytes: number[] }).bytes)));
      expect(withoutBarriers(appAtB).map((e) => e.message)).toEqual(Array.from({ length: messageCount }, (_, i) => `app${i}`));
      atB.forEach((got, c) => {
        expect(got.map((e) => text(e.message))).toEqual(Array.from({ length: messageCount }, (_, i) => `${names[c]}${i}`));
        expect(new Set(got.map((e) => e.sourceEva))).toEqual(new Set([a.eva]));
      });
    }, testTimeout);

    it('a sub-protocol message carries the sender as sourceEva, and reaches only the peer it was sent to', async () => {
      const hub = await newHub();
      const a = hub.openEndpoint(uniqueEva('a'));
      const b = hub.openEndpoint(uniqueEva('b'));
      const c = hub.openEndpoint(uniqueEva('c'));
      const [svcA, svcB] = [a.subProtocol('svc'), b.subProtocol('svc')];
      const atB = channelInbox(svcB);
      const atC = channelInbox(c.subProtocol('svc'));
      await connected(a, b);
      await connected(a, c);
      await connected(b, c);
      svcA.send(c.eva, 'a-to-c');
      svcB.send(c.eva, 'b-to-c');
      svcA.send(b.eva, 'a-to-b');
      await until('two messages at c and one at b', timeoutMs, () => atC.length >= 2 && atB.length >= 1);
      await barrier(a, b, 'barrier-b');
      await barrier(a, c, 'barrier-c');
      await barrier(b, c, 'barrier-bc');
      expect(atB).toEqual([{ sourceEva: a.eva, message: 'a-to-b' }]);
      expect(atC).toHaveLength(2);
      expect(atC).toEqual(expect.arrayContaining([{ sourceEva: a.eva, message: 'a-to-c' }, { sourceEva: b.eva, message: 'b-to-c' }]));
    }, testTimeout);

    it('a message for a sub-protocol the receiver has not opened never reaches its app nor another sub-protocol; one PROTOCOL error per name and peer', async () => {
      const hub = await newHub();
      const a = hub.openEndpoint(uniqueEva('a'));
      const b = hub.openEndpoint(uniqueEva('b'));
      const ghost = a.subProtocol('ghost');
      const appAtB = appInbox(b);
      const otherAtB = channelInbox(b.subProtocol('other'));
      const errors: VnfError[] = [];
      b.on('error', (error) => errors.push(error));
      await connected(a, b);
      for (let i = 0; i < 3; i++) ghost.send(b.eva, `ghost${i}`);
      ghost.send(b.eva, Uint8Array.of(1, 2, 3));
      if (json) ghost.send(b.eva, { a: 'value' });
      await barrier(a, b, 'barrier-ghost');
      await until('the error event', timeoutMs, () => errors.length >= 1);
      await barrier(a, b, 'barrier-ghost2');
      expect(withoutBarriers(appAtB)).toEqual([]);
      expect(otherAtB).toEqual([]);
      expect(errors).toHaveLength(1);
      expect(errors[0]!.code).toBe('PROTOCOL');
    }, testTimeout);

    it('closing a sub-protocol stops its delivery and its send (DESTROYED); the name can then be opened again', async () => {
      const hub = await newHub();
      const a = hub.openEndpoint(uniqueEva('a'));
      const b = hub.openEndpoint(uniqueEva('b'));
      const xA = a.subProtocol('x');
      const xB = b.subProtocol('x');
      expectVnfError(() => b.subProtocol('x'), 'INVALID_ARGUMENT');
      const atB = channelInbox(xB);
      const appAtB = appInbox(b);
      await connected(a, b);
      xA.send(b.eva, 'before close');
      await until('the first message', timeoutMs, () => atB.length >= 1);
      xB.close();
      xB.close(); // idempotent
      expectVnfError(() => xB.send(a.eva, 'from a closed channel'), 'DESTROYED');
      // Handlers set on the closed channel are never called either.
      const late: unknown[] = [];
      xB.onMessage = (e) => late.push(e.message);
      xA.send(b.eva, 'after close');
      await barrier(a, b, 'barrier-close');
      expect(atB.map((e) => e.message)).toEqual(['before close']);
      expect(late).toEqual([]);
      expect(withoutBarriers(appAtB)).toEqual([]);
      const again = channelInbox(b.subProtocol('x'));
      xA.send(b.eva, 'reopened');
      await until('the message on the reopened channel', timeoutMs, () => again.length >= 1);
      expect(again).toEqual([{ sourceEva: a.eva, message: 'reopened' }]);
    }, testTimeout);

    it('sub-protocol send needs an open connection of the endpoint: NOT_CONNECTED at the call, as endpoint.send', async () => {
      const hub = await newHub();
      const a = hub.openEndpoint(uniqueEva('a'));
      const b = hub.openEndpoint(uniqueEva('b'));
      const xA = a.subProtocol('x');
      b.subProtocol('x');
      expectVnfError(() => xA.send(b.eva, 'too early'), 'NOT_CONNECTED');
      await connected(a, b);
      a.closeConnection(b.eva);
      expectVnfError(() => xA.send(b.eva, 'after close'), 'NOT_CONNECTED');
      a.destroy();
      expectVnfError(() => xA.send(b.eva, 'after destroy'), 'DESTROYED');
    }, testTimeout);

    it('connection loss reaches the app and every sub-protocol, once each', async () => {
      const hub = await newHub();
      const a = hub.openEndpoint(uniqueEva('a'));
      const b = hub.openEndpoint(uniqueEva('b'));
      const c = hub.openEndpoint(uniqueEva('c'));
      const lost: string[] = [];
      b.onConnectionLost((eva) => lost.push(`app:${eva}`));
      const channels = ['x', 'y'].map((n) => b.subProtocol(n));
      channels.forEach((channel) => channel.on('connectionLost', (eva) => lost.push(`${channel.name}:${eva}`)));
      const xA = a.subProtocol('x');
      await connected(a, b);
      await connected(c, b);
      a.closeConnection(b.eva);
      await until('three lost-events', timeoutMs, () => lost.length >= 3);
      expectVnfError(() => channels[0]!.send(a.eva, 'after loss'), 'NOT_CONNECTED');
      await connected(a, b);
      const got = waitFor<MessageEvent>('a message after reconnecting', timeoutMs, (done) => (channels[0]!.onMessage = done));
      xA.send(b.eva, 'after reconnect');
      expect((await got).message).toBe('after reconnect');
      expect(lost.sort()).toEqual([`app:${a.eva}`, `x:${a.eva}`, `y:${a.eva}`]);
      a.destroy();
      await until('six lost-events', timeoutMs, () => lost.length >= 6);
      // A round trip on another connection of b: a second lost-event would have arrived by now.
      await barrier(c, b, 'barrier-lost');
      expect(lost.sort()).toEqual([`app:${a.eva}`, `app:${a.eva}`, `x:${a.eva}`, `x:${a.eva}`, `y:${a.eva}`, `y:${a.eva}`]);
      expect(b.isConnected(c.eva)).toBe(true);
    }, testTimeout);

    it('a throwing sub-protocol onMessage is reported as a LISTENER_ERROR error event of the endpoint and delivery goes on', async () => {
      const hub = await newHub();
      const a = hub.openEndpoint(uniqueEva('a'));
      const b = hub.openEndpoint(uniqueEva('b'));
      const xA = a.subProtocol('x');
      const xB = b.subProtocol('x');
      const errors: VnfError[] = [];
      b.on('error', (error) => errors.push(error));
      const got: unknown[] = [];
      xB.onMessage = (e) => {
        got.push(e.message);
        if (e.message === 'boom') throw new Error('sub-protocol handler failed');
      };
      await connected(a, b);
      xA.send(b.eva, 'boom');
      xA.send(b.eva, 'after');
      await until('both messages', timeoutMs, () => got.length >= 2);
      expect(got).toEqual(['boom', 'after']);
      expect(errors.map((e) => e.code)).toEqual(['LISTENER_ERROR']);
    }, testTimeout);
  });
}
