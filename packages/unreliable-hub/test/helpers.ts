import { until as waitUntil } from '@vnf/conformance';
import { ConnectionStatus } from '@vnf/core';
import type { Endpoint, Hub, MessageEvent } from '@vnf/core';
import { InBrowserHub, type InBrowserHubOptions } from '@vnf/in-browser-hub';
import { UnreliableHub } from '../src';
import type { ChaosEvent, UnreliableHubOptions } from '../src';

/** The seed chaos tests use; `CHAOS_SEED=… npx jest packages/unreliable-hub` replays another. */
export const SEED: number | string = process.env.CHAOS_SEED ?? 20240611;

export const WAIT_MS = 10_000;

/** Hubs opened by a test; `closeAll` in afterEach closes them, so no timer outlives a test. */
const open: Hub[] = [];

export function chaosHub(options: UnreliableHubOptions = {}, inner: InBrowserHubOptions = {}): UnreliableHub<InBrowserHub> {
  const hub = new UnreliableHub(new InBrowserHub(inner), { seed: SEED, ...options });
  open.push(hub);
  return hub;
}

export function track<H extends Hub>(hub: H): H {
  open.push(hub);
  return hub;
}

export async function closeAll(): Promise<void> {
  await Promise.all(open.splice(0).map((hub) => hub.close()));
}

/** Runs a chaos scenario; a failure names the seed so the run can be replayed. */
export async function withSeed<T>(seed: unknown, scenario: () => Promise<T>): Promise<T> {
  try {
    return await scenario();
  } catch (err) {
    if (err instanceof Error) err.message = `[chaos seed ${String(seed)}; replay with CHAOS_SEED=${String(seed)}] ${err.message}`;
    throw err;
  }
}

/** Polls `condition` until it holds; fails after `timeoutMs` with `describe()` in the message (the shared helper). */
export const until = (what: string, condition: () => boolean, describe?: () => string, timeoutMs = WAIT_MS): Promise<void> =>
  waitUntil(what, timeoutMs, condition, describe);

export async function connect(from: Endpoint, to: Endpoint): Promise<void> {
  const event = await from.openConnection(to.eva);
  if (event.status !== ConnectionStatus.CONNECTED) throw new Error(`${from.eva} → ${to.eva}: ${JSON.stringify(event)}`);
}

/** Collects the messages an endpoint receives. */
export function inbox(endpoint: Endpoint): MessageEvent[] {
  const got: MessageEvent[] = [];
  endpoint.on('message', (event) => got.push(event));
  return got;
}

/** Collects the evas an endpoint lost connections to. */
export function losses(endpoint: Endpoint): string[] {
  const lost: string[] = [];
  endpoint.onConnectionLost((eva) => lost.push(eva));
  return lost;
}

/**
 * Waits until every message sent before now on from → to has arrived: with the chaos off for the pair,
 * a marker sent after them arrives after them (the inner hub keeps order).
 */
export async function flush(hub: UnreliableHub, from: Endpoint, to: Endpoint, got: MessageEvent[], marker = 'flush'): Promise<void> {
  hub.chaos.setFor(from.eva, to.eva, { drop: 0, duplicate: 0, reorder: 0, latencyMs: 0, jitterMs: 0, cut: 0, blackhole: false });
  from.send(to.eva, marker);
  await until(`marker ${marker} at ${to.eva}`, () => got.some((e) => e.message === marker));
}

/** The event log without times: what must be identical across replays of one seed. */
export function withoutTimes(events: ChaosEvent[]): Omit<ChaosEvent, 'atMs'>[] {
  return events.map(({ atMs: _atMs, ...rest }) => rest);
}
