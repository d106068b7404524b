/** Resource kinds that betray a leak: timers and sockets (Node's `process.getActiveResourcesInfo`). */
const TRACKED = new Set(['Timeout', 'TCPSocketWrap', 'TCPServerWrap', 'UDPWrap', 'PipeWrap']);

export type ResourceCounts = Map<string, number>;

/** Counts the tracked resources alive now. Empty outside Node. */
export function countActiveResources(): ResourceCounts {
  const counts: ResourceCounts = new Map();
  const info = (globalThis as { process?: { getActiveResourcesInfo?: () => string[] } }).process?.getActiveResourcesInfo?.() ?? [];
  for (const kind of info) {
    if (TRACKED.has(kind)) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  }
  return counts;
}

/** True when no tracked kind has more live resources than in `before`. */
export function resourcesSettled(before: ResourceCounts): boolean {
  for (const [kind, count] of countActiveResources()) {
    if (count > (before.get(kind) ?? 0)) return false;
  }
  return true;
}

export function describeResourceDiff(before: ResourceCounts): string {
  const extra: string[] = [];
  for (const [kind, count] of countActiveResources()) {
    const was = before.get(kind) ?? 0;
    if (count > was) extra.push(`${kind}: ${was} before, ${count} now`);
  }
  return extra.length ? `still alive — ${extra.join('; ')}` : 'nothing extra alive';
}
