import { ConnectionStatus, VnfError, type Endpoint, type Hub } from '@vnf/core';
import { until } from '@vnf/conformance';

const hubs: Hub[] = [];

/** Closes `hub` after the test (call `closeAll` from afterEach). */
export function track<H extends Hub>(hub: H): H {
  hubs.push(hub);
  return hub;
}

export async function closeAll(): Promise<void> {
  await Promise.all(hubs.splice(0).map((hub) => hub.close()));
}

export async function connect(a: Endpoint, b: Endpoint): Promise<void> {
  expect(await a.openConnection(b.eva)).toEqual({ status: ConnectionStatus.CONNECTED, targetEva: b.eva });
}

/** The code of what `fn` throws (or what it threw when it was not a VnfError). */
export function thrownCode(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return VnfError.is(err) ? err.code : err;
  }
  return 'nothing thrown';
}

export function thrown(fn: () => unknown): VnfError {
  try {
    fn();
  } catch (err) {
    if (VnfError.is(err)) return err;
    throw err;
  }
  throw new Error('nothing thrown');
}

/** Collects what `endpoint` emits as `error`. */
export function errorsOf(endpoint: Endpoint): VnfError[] {
  const errors: VnfError[] = [];
  endpoint.on('error', (error) => errors.push(error));
  return errors;
}

/** Collects the messages an endpoint's app receives. */
export function inbox(endpoint: Endpoint): unknown[] {
  const got: unknown[] = [];
  endpoint.on('message', (event) => got.push(event.message));
  return got;
}

export const waitUntil = (what: string, condition: () => boolean): Promise<void> => until(what, 5000, condition);
