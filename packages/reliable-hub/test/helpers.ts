import type { Endpoint, MessageEvent, VnfError } from '@vnf/core';

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
