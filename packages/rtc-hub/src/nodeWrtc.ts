import { VnfError } from '@vnf/core';
import type { WebRtcImplementation } from './webRtcTypes';

/*
 * The only place that names @roamhq/wrtc. The require is lazy (browsers never run it) and the package's
 * `browser` field maps @roamhq/wrtc to false, so browser bundles carry none of it.
 */

declare const require: ((id: string) => unknown) | undefined;

interface NodeProcess {
  cwd(): string;
  getBuiltinModule?: (id: string) => { createRequire(path: string): (id: string) => unknown } | undefined;
}

/** Loads @roamhq/wrtc with a literal require, so bundlers see it and apply the `browser` field; null when Node has no require. */
function requireWrtc(): { loaded: unknown } | null {
  if (typeof require === 'function') return { loaded: require('@roamhq/wrtc') };
  // ES module builds in Node have no `require`; resolve from the application's directory instead.
  const proc = (globalThis as { process?: NodeProcess }).process;
  const moduleApi = proc?.getBuiltinModule?.('module');
  return moduleApi ? { loaded: moduleApi.createRequire(`${proc!.cwd()}/`)('@roamhq/wrtc') } : null;
}

/** `@roamhq/wrtc` when it is installed, else null. */
export function loadNodeWrtc(): WebRtcImplementation | null {
  let loaded: unknown;
  try {
    const result = requireWrtc();
    if (!result) return null;
    loaded = result.loaded;
  } catch (err) {
    if ((err as { code?: unknown }).code === 'MODULE_NOT_FOUND' && String((err as Error).message).includes("'@roamhq/wrtc'")) return null;
    throw new VnfError(
      'MISSING_DEPENDENCY',
      `@roamhq/wrtc is installed but could not be loaded (${String((err as Error).message)}). ` +
        'Reinstall it for this platform and Node version, or pass a WebRTC implementation as the `wrtc` option.',
      { cause: err },
    );
  }
  // A browser bundle maps @roamhq/wrtc to an empty module.
  const impl = ((loaded as { default?: unknown } | null)?.default ?? loaded) as Partial<WebRtcImplementation> | null;
  return typeof impl?.RTCPeerConnection === 'function' ? (impl as WebRtcImplementation) : null;
}
