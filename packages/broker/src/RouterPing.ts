import { createLogger } from '@vnf/core';
import type { Router } from '@vnf/protocol';

const log = createLogger('broker');

/** How long the router may take to answer a ping before the broker counts it as unavailable. */
export const PING_TIMEOUT_MS = 2000;

export type PingOutcome = { ok: true; seconds: number } | { ok: false; reason: string };

/**
 * Times one `router.ping()`, given at most `timeoutMs`: what /healthz and the round-trip histogram both ask at scrape
 * time (never on a timer, so an idle broker pings nobody). Never rejects. Undefined when the router has no ping.
 */
export function pingRouter(router: Router, timeoutMs = PING_TIMEOUT_MS): Promise<PingOutcome> | undefined {
  if (typeof router.ping !== 'function') return undefined;
  const started = process.hrtime.bigint();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<PingOutcome>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, reason: `router ping took more than ${timeoutMs} ms` }), timeoutMs);
  });
  const answer = Promise.resolve()
    .then(() => router.ping!())
    .then(
      (): PingOutcome => ({ ok: true, seconds: Number(process.hrtime.bigint() - started) / 1e9 }),
      (err: unknown): PingOutcome => {
        // The error may name the router's host: it goes to the log, not to whoever asks /healthz.
        log('router ping failed: %s', String(err));
        return { ok: false, reason: 'router ping failed' };
      },
    );
  return Promise.race([answer, timeout]).finally(() => clearTimeout(timer));
}
