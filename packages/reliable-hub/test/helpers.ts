import { DecoratorEndpoint, DecoratorHub, type Endpoint, type EndpointOptions, type MessageEvent, type VnfError } from '@vnf/core';
import { decodeFrame, type Frame } from '../src/frameCodec';

export { until } from '@vnf/conformance';

/** Everything an endpoint reports: messages, lost connections, new connections, errors. */
export interface Recorder {
  messages: unknown[];
  lost: string[];
  connections: string[];
  errors: VnfError[];
}

export function record(endpoint: Endpoint): Recorder {
  const recorder: Recorder = { messages: [], lost: [], connections: [], errors: [] };
  endpoint.on('message', (event: MessageEvent) => recorder.messages.push(event.message));
  endpoint.onConnectionLost((eva) => recorder.lost.push(eva));
  endpoint.on('connection', (eva) => recorder.connections.push(eva));
  endpoint.on('error', (error) => recorder.errors.push(error));
  return recorder;
}

/** The first index where `got` differs from `expected`, for a failure message that says where order broke. */
export function firstDifference(got: readonly unknown[], expected: readonly unknown[]): string {
  const n = Math.max(got.length, expected.length);
  for (let i = 0; i < n; i++) {
    if (got[i] !== expected[i]) return `first difference at ${i}: got ${String(got[i])}, expected ${String(expected[i])}`;
  }
  return 'no difference';
}

/** One frame seen by a GateHub endpoint: sent by `at` to `peer` (`out`), or received by `at` from `peer` (`in`). */
export interface GateEntry {
  at: string;
  peer: string;
  dir: 'out' | 'in';
  frame: Frame;
  dropped: boolean;
}

/**
 * A controllable inner hub for ReliableHub tests: it logs every ReliableHub frame in the order the endpoints
 * send and receive them, and drops the outgoing frames `drop` picks. Tests assert on this log, not on time.
 */
export class GateHub extends DecoratorHub {
  readonly log: GateEntry[] = [];
  drop: (from: string, to: string, frame: Frame) => boolean = () => false;

  protected override wrapEndpoint(inner: Endpoint, options: EndpointOptions): Endpoint {
    return new GateEndpoint(inner, options, this);
  }

  /** The data frames `from` sent (dropped ones included), as sequence numbers in order. */
  dataSent(from: string): number[] {
    return this.log.filter((e) => e.at === from && e.dir === 'out' && e.frame.type === 'data').map((e) => (e.frame as { seq: number }).seq);
  }
}

class GateEndpoint extends DecoratorEndpoint {
  constructor(
    inner: Endpoint,
    options: EndpointOptions,
    private readonly gate: GateHub,
  ) {
    super(inner, options);
  }

  protected override transmit(targetEva: string, message: unknown): void {
    const frame = decodeFrame(message);
    const dropped = frame !== null && this.gate.drop(this.eva, targetEva, frame);
    if (frame) this.gate.log.push({ at: this.eva, peer: targetEva, dir: 'out', frame, dropped });
    if (!dropped) super.transmit(targetEva, message);
  }

  protected override receive(sourceEva: string, message: unknown): void {
    const frame = decodeFrame(message);
    if (frame) this.gate.log.push({ at: this.eva, peer: sourceEva, dir: 'in', frame, dropped: false });
    super.receive(sourceEva, message);
  }
}
