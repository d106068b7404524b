import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/** Descriptors left for everything else the process opens (files, outgoing sockets, the registry store's). */
const FALLBACK_MAX_CONNECTIONS = 8_000;

/**
 * The default cap on the TCP connections `listen()` accepts: 80 % of the process's soft descriptor limit
 * (read from /proc on Linux), so that a flood of connections ends in refusals, never in EMFILE for the broker.
 */
export function defaultMaxConnections(): number {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = Number(line?.split(/\s{2,}/)[1]);
    if (Number.isSafeInteger(soft) && soft > 0) return Math.max(64, Math.floor(soft * 0.8));
  } catch {
    // Not Linux, or /proc is not mounted: the fallback below.
  }
  return FALLBACK_MAX_CONNECTIONS;
}

export interface ServerLimits {
  maxConnections: number;
  /** Infinity: no per-address cap (behind a proxy every connection has the proxy's address). */
  maxConnectionsPerAddress: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
}

/**
 * Bounds what idle or slow TCP connections can hold on a server the broker owns: a total cap, a cap per remote
 * address, and deadlines for the HTTP upgrade request (the hello timeout starts only after the upgrade).
 * Returns the function that removes the per-address listener.
 */
export function applyServerLimits(server: Server, limits: ServerLimits): () => void {
  if (Number.isFinite(limits.maxConnections)) server.maxConnections = limits.maxConnections;
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  if (!Number.isFinite(limits.maxConnectionsPerAddress)) return () => undefined;
  const perAddress = new Map<string, number>();
  const onConnection = (socket: Socket): void => {
    const address = socket.remoteAddress ?? 'unknown';
    const count = (perAddress.get(address) ?? 0) + 1;
    if (count > limits.maxConnectionsPerAddress) {
      socket.destroy();
      return;
    }
    perAddress.set(address, count);
    socket.once('close', () => {
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left === 0) perAddress.delete(address);
      else perAddress.set(address, left);
    });
  };
  server.on('connection', onConnection);
  return () => server.off('connection', onConnection);
}
