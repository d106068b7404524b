import { InBrowserRegistry, LeaderElection } from '@vnf/registry';
import { VnfError, type RegistryClient } from '@vnf/core';
import { events, nextEvent, settled, within } from './recipeSupport';

const KEY = { collection: 'vnf.leaders', name: 'scheduler' };

describe('LeaderElection', () => {
  let registry: InBrowserRegistry;
  let clients: RegistryClient[];
  const connect = (eva: string): RegistryClient => {
    const client = registry.connect(eva);
    clients.push(client);
    return client;
  };
  /** Candidates a, b, c… campaigning in this order (each queued before the next). */
  async function candidates(evas: string[]): Promise<Array<{ eva: string; client: RegistryClient; election: LeaderElection; elected: Promise<{ token: number }> }>> {
    const out = [];
    for (const eva of evas) {
      const client = connect(eva);
      const election = new LeaderElection(client, 'scheduler', { info: { url: `http://${eva}` } });
      const elected = election.campaign();
      elected.catch(() => undefined);
      out.push({ eva, client, election, elected });
      await settled();
    }
    return out;
  }

  beforeEach(() => {
    registry = new InBrowserRegistry();
    clients = [];
  });
  afterEach(async () => {
    await Promise.all(clients.map((client) => client.close()));
  });

  it('elects exactly one candidate and tells everyone its info', async () => {
    const [a, b, c] = await candidates(['a', 'b', 'c']);
    const { token } = await within(a!.elected, 'a elected');
    expect([a, b, c].map((x) => x!.election.isLeader)).toEqual([true, false, false]);
    expect(a!.election.token).toBe(token);
    for (const x of [a, b, c]) expect(await x!.election.leader()).toEqual({ url: 'http://a' });
    // Campaigning again while leading resolves at once with the same token.
    expect(await a!.election.campaign()).toEqual({ token });
  });

  it('hands the leadership to the next candidate when the leader resigns, then to the one after', async () => {
    const [a, b, c] = await candidates(['a', 'b', 'c']);
    const first = await within(a!.elected, 'a elected');
    const deposed = nextEvent(a!.election, 'deposed');
    const bElected = nextEvent(b!.election, 'elected');
    await a!.election.resign();
    expect(await deposed).toEqual([]);
    const [second] = (await bElected) as [number];
    expect(await b!.elected).toEqual({ token: second });
    expect(second).toBeGreaterThan(first.token);
    expect([a, b, c].map((x) => x!.election.isLeader)).toEqual([false, true, false]);
    await b!.election.resign();
    const third = await within(c!.elected, 'c elected');
    expect(third.token).toBeGreaterThan(second);
    expect(await a!.election.leader()).toEqual({ url: 'http://c' });
  });

  it('elects the next candidate when the leader closes its client or is dropped; a dropped leader is deposed with an error', async () => {
    const [a, b, c] = await candidates(['a', 'b', 'c']);
    await within(a!.elected, 'a elected');
    await a!.client.close();
    await within(b!.elected, 'b elected');
    const deposed = nextEvent(b!.election, 'deposed');
    registry.drop(b!.client);
    const [error] = await deposed;
    expect(VnfError.is(error, 'UNAVAILABLE')).toBe(true);
    expect(b!.election.isLeader).toBe(false);
    await within(c!.elected, 'c elected');
    expect(await c!.election.leader()).toEqual({ url: 'http://c' });
  });

  it('a leader whose channel dropped campaigns again once its client resynced, behind the candidate that took over', async () => {
    const [a, b] = await candidates(['a', 'b']);
    const { token: first } = await within(a!.elected, 'a elected');
    const deposed = nextEvent(a!.election, 'deposed');
    events(a!.client).emit('down');
    expect(VnfError.is((await deposed)[0], 'UNAVAILABLE')).toBe(true);
    const aAgain = nextEvent(a!.election, 'elected');
    // Back within the grace: a's stale entry goes, b (queued first) is elected, and a queues again.
    events(a!.client).emit('resynced');
    const { token: second } = await within(b!.elected, 'b elected');
    expect(second).toBeGreaterThan(first);
    expect(a!.election.isLeader).toBe(false);
    await settled();
    await b!.election.resign();
    const [third] = (await aAgain) as [number];
    expect(third).toBeGreaterThan(second);
    expect(a!.election.isLeader).toBe(true);
  });

  it('does not campaign again after resigning; resign() while campaigning rejects the campaign CANCELLED', async () => {
    const [a, b] = await candidates(['a', 'b']);
    await within(a!.elected, 'a elected');
    await b!.election.resign();
    await expect(b!.elected).rejects.toMatchObject({ code: 'CANCELLED' });
    await a!.election.resign();
    await settled();
    expect(await a!.election.leader()).toBeNull();
    expect(await registry.store.list(KEY.collection)).toEqual([]);
    // Both may run again.
    const again = await within(b!.election.campaign(), 'b elected');
    expect(b!.election.token).toBe(again.token);
  });

  it('leader() is null without a leader and the leader eva without info; methods work unbound', async () => {
    const election = new LeaderElection(connect('solo'), 'scheduler');
    const { campaign, resign, leader } = election;
    expect(await leader()).toBeNull();
    await campaign();
    expect(await leader()).toBe('solo');
    await resign();
    expect(await leader()).toBeNull();
  });

  it('checks its options like every VNF class', () => {
    const client = connect('a');
    expect(() => new LeaderElection(client, 'x', { colection: 'y' } as never)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => new LeaderElection(client, '')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});
