import type { IncomingMessage, ServerResponse } from 'node:http';
import { createLogger } from '@vnf/core';

const log = createLogger('broker');

/** A plain Node request handler: mount it on any http server, or wrap it for Express (`(req, res) => handler(req, res)`). */
export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** What /healthz answers: 200 when ready, 503 with the reason when not. */
export type BrokerHealth = { status: 'ready' } | { status: 'unavailable'; reason: string };

/** Paths the server of `Broker.listen` answers besides the WebSocket path (GET and HEAD only). */
export const METRICS_PATH = '/metrics';
export const HEALTH_PATH = '/healthz';

/** Answers with the metrics in the Prometheus text format; 500 if collecting them failed. */
export function metricsHandler(source: { metrics(): Promise<string>; readonly contentType: string }): RequestHandler {
  return (_req, res) => {
    source.metrics().then(
      (text) => reply(res, 200, source.contentType, text),
      (err: unknown) => {
        log('collecting metrics failed: %s', String(err));
        reply(res, 500, 'text/plain; charset=utf-8', 'collecting metrics failed\n');
      },
    );
  };
}

/** Answers 200 `{"status":"ready"}` or 503 `{"status":"unavailable","reason":...}`; a check that throws counts as unavailable. */
export function healthHandler(check: () => Promise<BrokerHealth>): RequestHandler {
  return (_req, res) => {
    check()
      .catch((err: unknown): BrokerHealth => {
        log('health check failed: %s', String(err));
        return { status: 'unavailable', reason: 'health check failed' };
      })
      .then((health) => reply(res, health.status === 'ready' ? 200 : 503, 'application/json', JSON.stringify(health)));
  };
}

/** The handler of the server of `Broker.listen` for `req`, if it is a GET or HEAD of /metrics or /healthz. */
export function operatorRoute(req: IncomingMessage, path: string, routes: { metrics: RequestHandler; health: RequestHandler }): RequestHandler | undefined {
  if (req.method !== 'GET' && req.method !== 'HEAD') return undefined;
  if (path === METRICS_PATH) return routes.metrics;
  if (path === HEALTH_PATH) return routes.health;
  return undefined;
}

function reply(res: ServerResponse, status: number, contentType: string, body: string): void {
  // The client may have gone while the answer was collected.
  if (res.headersSent || res.destroyed) return;
  // Node sends no body for a HEAD request, and keeps the headers.
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
