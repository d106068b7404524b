// Attack: one frame of 2,000 registry.list calls against a collection of 100 entries of ~60 KB. Every call used
// to build its own 6 MB answer at once (12 GB): the broker ran out of memory. Now at most maxCallsInFlight calls
// of a socket are handled at once, the others are refused RATE_LIMITED on the spot, and no reply exceeds
// maxReplyBytes (a whole list that does not fit is TOO_LARGE; pages fit).
import { trackResources } from '@vnf/conformance';
import { WebSocketRegistryClient } from '@vnf/registry';
import { WebSocketRpc } from '@vnf/websocket-hub';
import { startBroker } from '../fixture';
import { ATTACKERS, BoundFactory, HONEST, HonestPair, Scope, callAll, controlFrame, rawRegister, replies } from './support';

const ENTRIES = 100;
const VALUE = 'v'.repeat(60_000);
const CALLS = 2000;

let scope: Scope;
beforeEach(() => {
  scope = new Scope();
});
afterEach(() => scope.close());

it('2,000 registry.list calls in one frame over 6 MB of entries get RATE_LIMITED/TOO_LARGE at once; memory stays bounded and an honest pair goes on', async () => {
  const resources = trackResources();
  // The control-rate limit would close the attacker before the call budget is reached: lifted, so the budgets are what is tested.
  const running = scope.add(await startBroker({ maxControlPerSecond: 0, maxControlPerSecondPerClient: 0, registry: { maxBytesPerOwner: 16 * 1024 * 1024 } }));
  const [filler] = await rawRegister(running.url, 'filler', ATTACKERS[1], { role: 'rpc' });
  scope.add(filler);
  const created = await callAll(
    filler,
    Array.from({ length: ENTRIES }, (_, i) => ({ method: 'registry.create', params: { collection: 'big', name: `e${String(i).padStart(3, '0')}`, value: VALUE } })),
    1,
  );
  expect(created.filter((r) => r.t === 'result')).toHaveLength(ENTRIES);

  const pair = scope.add(await HonestPair.open(running.url, 'flood'));
  await pair.exchange(20);
  const [attacker] = await rawRegister(running.url, 'list-attacker', ATTACKERS[0]);
  scope.add(attacker);

  const peakBefore = process.resourceUsage().maxRSS * 1024;
  const traffic = pair.background();
  const ids = Array.from({ length: CALLS }, (_, i) => 1 + i);
  attacker.ws.send(controlFrame(ids.map((id) => ({ t: 'call', id, method: 'registry.list', params: { collection: 'big' } }))));
  const whole = await replies(attacker, ids, 60_000);
  // The same flood asking for pages: each answered call gets one bounded page, the others RATE_LIMITED.
  const pagedIds = ids.map((id) => id + CALLS);
  attacker.ws.send(controlFrame(pagedIds.map((id) => ({ t: 'call', id, method: 'registry.list', params: { collection: 'big', after: null } }))));
  const paged = await replies(attacker, pagedIds, 60_000);
  const delivered = await traffic.stop();
  const peakGrowth = process.resourceUsage().maxRSS * 1024 - peakBefore;

  const codes = (m: typeof whole): Record<string, number> => {
    const count: Record<string, number> = {};
    for (const r of m.values()) {
      const key = r.t === 'result' ? 'result' : r.code;
      count[key] = (count[key] ?? 0) + 1;
    }
    return count;
  };
  // Never a 6 MB answer: the handled calls are TOO_LARGE, every other one RATE_LIMITED.
  const wholeCodes = codes(whole);
  expect(Object.keys(wholeCodes).sort()).toEqual(['RATE_LIMITED', 'TOO_LARGE']);
  expect(wholeCodes.RATE_LIMITED).toBeGreaterThanOrEqual(CALLS - 16);
  const pagedCodes = codes(paged);
  expect(Object.keys(pagedCodes).sort()).toEqual(['RATE_LIMITED', 'result']);
  expect(pagedCodes.result).toBeLessThanOrEqual(16);
  for (const r of paged.values()) {
    if (r.t !== 'result') continue;
    const page = r.result as { entries: unknown[]; next?: string };
    expect(page.entries.length).toBeLessThan(ENTRIES);
    expect(typeof page.next).toBe('string');
  }
  expect(attacker.closeCode).toBeNull();
  expect(peakGrowth).toBeLessThan(200 * 1024 * 1024);

  // The broker is whole: the pair kept talking throughout, and an honest lister gets every entry, page by page.
  expect(delivered).toBeGreaterThan(0);
  pair.assertHealthy();
  const rpc = new WebSocketRpc('honest-lister', new BoundFactory(running.url, HONEST));
  const lister = scope.add(new WebSocketRegistryClient(rpc));
  const listed = await lister.listEntries('big');
  expect(listed.map((e) => e.name)).toEqual(Array.from({ length: ENTRIES }, (_, i) => `e${String(i).padStart(3, '0')}`));
  expect(listed.every((e) => e.value === VALUE && e.owner === 'filler')).toBe(true);

  await scope.close();
  await resources.released(5000);
}, 90_000);
