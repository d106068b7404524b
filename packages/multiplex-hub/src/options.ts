import { DEFAULT_CONNECT_TIMEOUT_MS, option, optionsSchema } from '@vnf/core';

/** Options of a MultiplexHub. Every field is optional; the defaults are documented in README.md. */
export interface MultiplexHubOptions {
  /**
   * How long `openConnection` waits for the inner connection before `TIMEOUT`, in ms.
   * @default 10000
   */
  connectTimeoutMs?: number;
  /**
   * Report a message for a sub-protocol this endpoint has not opened as an `error` event (`PROTOCOL`), once per
   * name and peer. `false` drops such messages silently (peers that speak optional sub-protocols).
   * @default true
   */
  reportUnknownSubProtocols?: boolean;
}

export const SCHEMA = optionsSchema('MultiplexHub', {
  connectTimeoutMs: option.number({ above: 0, default: DEFAULT_CONNECT_TIMEOUT_MS }),
  reportUnknownSubProtocols: option.boolean({ default: true }),
});

/** Options after defaults and validation. */
export type MultiplexConfig = ReturnType<typeof SCHEMA.resolve>;
