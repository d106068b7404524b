import createDebug from 'debug';

/** A namespaced debug logger (`DEBUG=vnf:*`). Library code logs through this, never through console. */
export function createLogger(namespace: string): createDebug.Debugger {
  return createDebug(`vnf:${namespace}`);
}
