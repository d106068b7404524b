import { describe, expect, it } from '@jest/globals';
import {
  Global,
  VnfError,
  type ErrorCode,
  type RegistryChange,
  type RegistryClient,
  type RegistryEntry,
  type RegistryKey,
  type RegistrySnapshot,
  type RegistryWatchEvent,
  type RegistryWriteResult,
} from '@vnf/core';
import type { RegistrySuite } from './registryConformance';
import { Recorder, attempt, describeChange, describeChanges, expectCode, safeString } from './registryHelpers';

/** Ordinary entries: written by their owner only, removed when it goes. */
const C = 'conformance-coordination';
/** Retained entries (and wills with a value) are allowed here by every fixture's authorize hook. */
const R = 'conformance-retained-coordination';
/**
 * A room collection (@vnf/registry's ROOM_COLLECTION_PREFIX, `vnf.room:`): every registry keeps the room rules there,
 * under the fixtures' hook, which defers room collections to defaultAuthorize.
 */
const ROOM = 'vnf.room:conformance';

/**
 * The coordination guarantees of the registry (conditional writes, waits, wills, retained entries, snapshot and
 * filtered watches, resumed watches), registered inside `registryConformance`'s describe and run on its fixtures.
 */
export function registryCoordinationConformance(suite: RegistrySuite): void {
  const { connect, connectAgain, record } = suite;
  const key = (name: string, collection = C): RegistryKey => ({ collection, name });
  const ok = (version: number): object => ({ status: Global.OK, version, revision: expect.any(Number) });
  /** A few round trips on `clients`: whatever each called before has reached the registry. */
  const roundTrips = async (...clients: RegistryClient[]): Promise<void> => {
    for (let i = 0; i < 2; i++) await Promise.all(clients.map((client) => client.listEntries(C)));
  };

  describe('coordination', () => {
    describe('conditional writes', () => {
      it('write when null creates an absent entry once: OK at version 1, then CONFLICT with the current version and revision, nothing written', async () => {
        expect(Global.CONFLICT).toBe('CONFLICT');
        const a = await connect('owner-a');
        const b = await connect('owner-b');
        const seen = record();
        await b.watch(C, seen.watcher);
        const k = key('once');
        const created = await a.write(k, 'first', { when: null });
        expect(created).toEqual(ok(1));
        // A condition that does not hold resolves CONFLICT, whoever owns the entry: it never rejects.
        expect(await b.write(k, 'second', { when: null })).toEqual({ status: Global.CONFLICT, version: 1, revision: created.revision });
        expect(await a.write(k, 'third', { when: null })).toEqual({ status: Global.CONFLICT, version: 1, revision: created.revision });
        expect(await b.getEntry(k)).toBe('first');
        expect(await b.listEntries(C)).toEqual([{ collection: C, name: 'once', value: 'first', owner: 'owner-a', version: 1 }]);
        await a.write(key('marker'), 0);
        expect((await seen.until(2)).map(describeChange)).toEqual(['added:once', 'added:marker']);
      });

      it('write when version applies only at that version and bumps it; an absent entry resolves CONFLICT with null version and revision', async () => {
        const a = await connect('owner-a');
        const b = await connect('owner-b');
        const k = key('versioned');
        expect(await a.write(k, 'never', { when: { version: 1 } })).toEqual({ status: Global.CONFLICT, version: null, revision: null });
        await expectCode(attempt(() => a.getEntry(k)), 'NOT_FOUND');
        const first = await a.write(k, 'v1');
        expect(first).toEqual(ok(1));
        expect(await a.write(k, 'skipped', { when: { version: 2 } })).toEqual({ status: Global.CONFLICT, version: 1, revision: first.revision });
        const second = await a.write(k, 'v2', { when: { version: 1 } });
        expect(second).toEqual(ok(2));
        expect(second.revision!).toBeGreaterThan(first.revision!);
        expect(await a.write(k, 'stale', { when: { version: 1 } })).toEqual({ status: Global.CONFLICT, version: 2, revision: second.revision });
        expect(await b.getEntry(k)).toBe('v2');
        // Another owner: a condition that does not hold is a CONFLICT, one that holds is still not a licence to write.
        expect(await b.write(k, 'b', { when: { version: 1 } })).toEqual({ status: Global.CONFLICT, version: 2, revision: second.revision });
        await expectCode(attempt(() => b.write(k, 'b', { when: { version: 2 } })), 'FORBIDDEN');
        expect((await b.listEntries(C))[0]).toMatchObject({ value: 'v2', owner: 'owner-a', version: 2 });
      });

      it('write when fields matches a subset of the stored object: nested objects by subset, arrays and other values by equality', async () => {
        const a = await connect('owner-a');
        const k = key('fields');
        const stored = {
          state: 'idle',
          n: 1,
          none: null,
          meta: { zone: 'eu', rack: 3, deep: { x: 1, y: 2 } },
          tags: ['a', 'b'],
          items: [{ id: 1, on: true }],
        };
        await a.write(k, stored);
        let version = 1;
        const conflicts: Record<string, unknown>[] = [
          { state: 'busy' },
          { n: '1' },
          { n: 2 },
          { missing: 1 },
          { missing: null },
          { none: 0 },
          { state: 'idle', n: 2 },
          { meta: { zone: 'us' } },
          { meta: { zone: 'eu', rack: 4 } },
          { meta: { deep: { x: 2 } } },
          { meta: { deep: { z: 1 } } },
          { meta: 'eu' },
          { tags: ['a'] },
          { tags: ['b', 'a'] },
          { tags: ['a', 'b', 'c'] },
          { tags: 'a' },
          { items: [{ id: 1 }] },
          { items: [] },
          { state: { value: 'idle' } },
        ];
        for (const fields of conflicts) {
          const result = await a.write(k, 'overwritten', { when: { fields } });
          expect([safeString(fields), result.status, result.version]).toEqual([safeString(fields), Global.CONFLICT, version]);
        }
        expect(await a.getEntry(k)).toEqual(stored);
        const matches: Record<string, unknown>[] = [
          {},
          { state: 'idle' },
          { n: 1, state: 'idle' },
          { none: null },
          { meta: {} },
          { meta: { zone: 'eu' } },
          { meta: { deep: { x: 1 } } },
          { meta: { rack: 3, deep: { y: 2, x: 1 } } },
          { tags: ['a', 'b'] },
          // Equality of JSON values: the order of an object's keys is not part of it.
          { items: [{ on: true, id: 1 }] },
          { ...stored },
        ];
        for (const fields of matches) {
          const result = await a.write(k, stored, { when: { fields } });
          version++;
          expect([safeString(fields), result.status, result.version]).toEqual([safeString(fields), Global.OK, version]);
        }
        // A value that is not an object has no fields: arrays, strings, numbers, null.
        for (const [i, value] of ([['a'], 'idle', 5, null, true] as unknown[]).entries()) {
          const other = key(`not-an-object-${i}`);
          await a.write(other, value);
          for (const fields of [{}, { '0': 'a' }, { length: 1 }]) {
            const result = await a.write(other, 'overwritten', { when: { fields } });
            expect([safeString(value), safeString(fields), result.status]).toEqual([safeString(value), safeString(fields), Global.CONFLICT]);
          }
          expect(await a.getEntry(other)).toEqual(value);
        }
        expect(await a.write(key('absent'), 1, { when: { fields: {} } })).toEqual({ status: Global.CONFLICT, version: null, revision: null });
      });

      it('write without when creates or replaces an own entry and rejects FORBIDDEN for the entry of another owner (methods called unbound)', async () => {
        const a = await connect('owner-a');
        const b = await connect('owner-b');
        const { write, remove } = a;
        const k = key('plain');
        expect(await write(k, { v: 1 })).toEqual(ok(1));
        expect(await write(k, { v: 2 })).toEqual(ok(2));
        await expectCode(attempt(() => b.write(k, { v: 'b' })), 'FORBIDDEN');
        await expectCode(attempt(() => b.remove(k)), 'FORBIDDEN');
        expect(await b.getEntry(k)).toEqual({ v: 2 });
        // The entry is an ordinary own entry: the 0.1 calls see it as one.
        expect(await a.createEntry(k, 'again')).toBe(Global.ALREADY_EXISTS);
        expect(await a.updateEntry(k, { v: 3 })).toBe(Global.OK);
        expect(await b.listEntries(C)).toEqual([{ collection: C, name: 'plain', value: { v: 3 }, owner: 'owner-a', version: 3 }]);
        expect(await remove(k)).toEqual(ok(3));
        await expectCode(attempt(() => b.getEntry(k)), 'NOT_FOUND');
        expect(await b.write(k, 'b now')).toEqual(ok(1));
      });

      it('remove resolves the version removed; an absent entry rejects NOT_FOUND without when and resolves CONFLICT with it', async () => {
        const a = await connect('owner-a');
        const b = await connect('owner-b');
        const seen = record();
        await b.watch(C, seen.watcher);
        const k = key('removable');
        await expectCode(attempt(() => a.remove(k)), 'NOT_FOUND');
        expect(await a.remove(k, { when: { version: 1 } })).toEqual({ status: Global.CONFLICT, version: null, revision: null });
        expect(await a.remove(k, { when: { fields: {} } })).toEqual({ status: Global.CONFLICT, version: null, revision: null });
        await a.createEntry(k, { state: 'one' });
        const updated = await a.write(k, { state: 'two' });
        expect(await a.remove(k, { when: { version: 1 } })).toEqual({ status: Global.CONFLICT, version: 2, revision: updated.revision });
        expect(await a.remove(k, { when: { fields: { state: 'one' } } })).toEqual({ status: Global.CONFLICT, version: 2, revision: updated.revision });
        expect(await a.remove(k, { when: null })).toEqual({ status: Global.CONFLICT, version: 2, revision: updated.revision });
        expect(await b.remove(k, { when: { version: 1 } })).toEqual({ status: Global.CONFLICT, version: 2, revision: updated.revision });
        await expectCode(attempt(() => b.remove(k, { when: { version: 2 } })), 'FORBIDDEN');
        expect(await b.getEntry(k)).toEqual({ state: 'two' });
        const removed = await a.remove(k, { when: { fields: { state: 'two' } } });
        expect(removed).toEqual(ok(2));
        expect(removed.revision!).toBeGreaterThan(updated.revision!);
        await expectCode(attempt(() => b.getEntry(k)), 'NOT_FOUND');
        await a.write(k, 'back');
        expect(await a.remove(k)).toEqual(ok(1));
        expect((await seen.until(5)).map((c) => `${c.type}:${c.entry.version}`)).toEqual(['added:1', 'updated:2', 'removed:2', 'added:1', 'removed:1']);
      });

      it('revision grows across every write of every entry and owner, and over remove and recreate; a recreated entry restarts at version 1', async () => {
        const a = await connect('owner-a');
        const b = await connect('owner-b');
        const revisions: number[] = [];
        const push = (result: RegistryWriteResult): RegistryWriteResult => {
          expect(result.status).toBe(Global.OK);
          revisions.push(result.revision!);
          return result;
        };
        push(await a.write(key('r1'), 1));
        push(await b.write(key('r2'), 1));
        push(await a.write(key('r1'), 2));
        push(await a.write(key('elsewhere', R), 1, { retain: true }));
        await b.createEntry(key('r3'), 'created the 0.1 way');
        await b.updateEntry(key('r3'), 'updated the 0.1 way');
        push(await b.write(key('r3'), 3));
        expect(push(await a.remove(key('r1'))).version).toBe(2);
        const recreated = push(await a.write(key('r1'), 'again', { when: null }));
        expect(recreated.version).toBe(1);
        push(await b.remove(key('r2'), { when: { version: 1 } }));
        push(await b.write(key('r2'), 'again'));
        for (let i = 1; i < revisions.length; i++) expect([i, revisions[i]! > revisions[i - 1]!]).toEqual([i, true]);
        // A CONFLICT tells the entry's current revision: that of the write that made it as it is.
        expect(await b.write(key('r1'), 'x', { when: null })).toEqual({ status: Global.CONFLICT, version: 1, revision: recreated.revision });
      });

      it("resolves exactly one of many concurrent creates when null; the others get CONFLICT with the winner's version and revision", async () => {
        const clients = await Promise.all(Array.from({ length: 10 }, (_, i) => connect(`racer-${i}`)));
        const k = key('contended');
        const results = await Promise.all(clients.map((client, i) => client.write(k, i, { when: null })));
        const winners = results.flatMap((result, i) => (result.status === Global.OK ? [i] : []));
        expect(winners).toHaveLength(1);
        const winner = winners[0]!;
        expect(results[winner]).toEqual(ok(1));
        for (const [i, result] of results.entries()) {
          if (i !== winner) expect(result).toEqual({ status: Global.CONFLICT, version: 1, revision: results[winner]!.revision });
        }
        expect(await clients[0]!.listEntries(C)).toEqual([{ collection: C, name: 'contended', value: winner, owner: `racer-${winner}`, version: 1 }]);
      });

      it('counts exactly when many clients increment one entry with read-version then write-when-version retry loops', async () => {
        const clients = await Promise.all(Array.from({ length: 10 }, (_, i) => connect(`counter-${i}`)));
        const k = key('counter', R);
        expect(await clients[0]!.write(k, 0, { retain: true })).toEqual(ok(1));
        const perClient = 3;
        const increment = async (client: RegistryClient): Promise<void> => {
          for (let done = 0; done < perClient; ) {
            const entry = (await client.listEntries(R)).find((e) => e.name === 'counter')!;
            const result = await client.write(k, (entry.value as number) + 1, { when: { version: entry.version }, retain: true });
            if (result.status === Global.OK) done++;
          }
        };
        await Promise.all(clients.map(increment));
        const [entry] = await clients[0]!.listEntries(R);
        expect(entry).toMatchObject({ name: 'counter', value: clients.length * perClient, version: clients.length * perClient + 1 });
      });

      it('rejects bad keys, options and values of write and remove (asynchronously), and every call after close with DESTROYED', async () => {
        // Every case is tried, and the failures reported together.
        const problems: string[] = [];
        const check = (outcome: Promise<void>): Promise<void> => outcome.catch((err: unknown) => void problems.push(err instanceof Error ? err.message : String(err)));
        const a = await connect('owner-a');
        const k = key('checked');
        for (const bad of [null, 'c/name', { collection: C }, { collection: '', name: 'n' }, { collection: C, name: 7 }] as unknown as RegistryKey[]) {
          await check(expectCode(attempt(() => a.write(bad, 'v')), 'INVALID_ARGUMENT', bad));
          await check(expectCode(attempt(() => a.remove(bad)), 'INVALID_ARGUMENT', bad));
        }
        for (const bad of [undefined, () => 1, Number.NaN, { nested: [undefined] }]) {
          await check(expectCode(attempt(() => a.write(k, bad)), 'INVALID_PAYLOAD', bad));
        }
        const badConditions: unknown[] = [{ version: '1' }, { version: 1.5 }, { fields: 'x' }, { fields: null }, { fields: [1] }, 'absent', 7, {}];
        for (const when of badConditions) {
          await check(expectCode(attempt(() => a.write(k, 'v', { when: when as never })), 'INVALID_ARGUMENT', when));
          await check(expectCode(attempt(() => a.remove(k, { when: when as never })), 'INVALID_ARGUMENT', when));
        }
        // In a collection where wills with a value are allowed, so that only the will's shape is wrong.
        for (const will of [{}, { remove: false }, 'remove', { value: () => 1 }]) {
          await check(expectOneOf(attempt(() => a.write(key('checked', R), 'v', { will: will as never })), ['INVALID_ARGUMENT', 'INVALID_PAYLOAD'], will));
        }
        await check(expectCode(attempt(() => a.getEntry(key('checked', R))), 'NOT_FOUND'));
        // Options that cannot mean anything: refused, not ignored (a typo must not silently write unconditionally).
        const badOptions: unknown[] = [
          { when: null, whenn: null },
          { wait: true },
          { timeoutMs: 100 },
          { when: null, wait: true, timeoutMs: -1 },
          { when: null, wait: 'yes' },
          { retain: 'yes' },
          { when: null, wait: true, signal: 'abort' },
        ];
        for (const options of badOptions) {
          await check(expectCode(attempt(() => a.write(key('checked', R), 'v', options as never)), 'INVALID_ARGUMENT', options));
        }
        for (const options of [{ retain: true }, { will: { remove: true } }, { when: null, wait: true, timeoutMs: 0 }]) {
          await check(expectCode(attempt(() => a.remove(key('checked', R), options as never)), 'INVALID_ARGUMENT', options));
        }
        await check(expectCode(attempt(() => a.watch(C, () => undefined, { snapshot: true, since: 3 } as never)), 'INVALID_ARGUMENT'));
        for (const filter of ['x', 5, [1]]) {
          await check(expectCode(attempt(() => a.watch(C, () => undefined, { filter: filter as never })), 'INVALID_ARGUMENT', filter));
        }
        await check(expectCode(attempt(() => a.getEntry(k)), 'NOT_FOUND'));
        expect(problems).toEqual([]);
        await a.close();
        await expectCode(attempt(() => a.write(k, 'v')), 'DESTROYED');
        await expectCode(attempt(() => a.remove(k)), 'DESTROYED');
        await expectCode(attempt(() => a.watch(C, () => undefined, { snapshot: true })), 'DESTROYED');
      });
    });

    describe('waiting writes', () => {
      it('wait: true resolves at once when the condition already holds', async () => {
        const a = await connect('owner-a');
        expect(await a.write(key('free'), { v: 'mine' }, { when: null, wait: true })).toEqual(ok(1));
        expect(await a.write(key('free'), { v: 'again' }, { when: { version: 1 }, wait: true })).toEqual(ok(2));
        expect(await a.remove(key('free'), { when: { fields: {} }, wait: true })).toEqual(ok(2));
      });

      it('wait: true resolves only once the condition holds, then writes atomically: a waiter takes a key as its holder removes it', async () => {
        const holder = await connect('holder');
        const waiter = await connect('waiter');
        const observer = await connect('observer');
        const seen = record();
        await observer.watch(C, seen.watcher);
        const k = key('held');
        await holder.write(k, 'held by holder', { when: null });
        const waiting = settles(waiter.write(k, 'taken by waiter', { when: null, wait: true }));
        await roundTrips(waiter, holder, observer);
        expect(waiting.settled()).toBe(false);
        // A change that leaves the condition false does not end the wait.
        await holder.write(k, 'still held');
        await roundTrips(waiter, holder);
        expect(waiting.settled()).toBe(false);
        const removed = await holder.remove(k);
        const won = await waiting.promise;
        expect(won).toEqual(ok(1));
        expect(won.revision!).toBeGreaterThan(removed.revision!);
        expect(await observer.listEntries(C)).toEqual([{ collection: C, name: 'held', value: 'taken by waiter', owner: 'waiter', version: 1 }]);
        expect((await seen.until(4)).map((c) => `${c.type}:${safeString(c.entry.value)}:${c.entry.owner}`)).toEqual([
          'added:"held by holder":holder',
          'updated:"still held":holder',
          'removed:"still held":holder',
          'added:"taken by waiter":waiter',
        ]);
      });

      it('wait: true on fields resolves when another writer makes the value match', async () => {
        const a = await connect('writer-a');
        const b = await connect('writer-b');
        const k = key('job', R);
        await a.write(k, { state: 'busy', by: 'a' }, { retain: true });
        const waiting = settles(b.write(k, { state: 'busy', by: 'b' }, { when: { fields: { state: 'free' } }, wait: true, retain: true }));
        await roundTrips(a, b);
        await a.write(k, { state: 'busy', by: 'a', step: 2 }, { retain: true });
        await roundTrips(a, b);
        expect(waiting.settled()).toBe(false);
        const freed = await a.write(k, { state: 'free' }, { retain: true });
        expect(await waiting.promise).toEqual(ok(freed.version! + 1));
        expect(await a.getEntry(k)).toEqual({ state: 'busy', by: 'b' });
        // Waiting works for remove too: it removes once the condition holds.
        const removing = settles(a.remove(k, { when: { fields: { state: 'done' } }, wait: true }));
        await roundTrips(a, b);
        expect(removing.settled()).toBe(false);
        await b.write(k, { state: 'done' }, { retain: true });
        expect((await removing.promise).status).toBe(Global.OK);
        await expectCode(attempt(() => b.getEntry(k)), 'NOT_FOUND');
      });

      it('several waiters on one change: exactly one wins each time the key is freed, first come first served', async () => {
        const holder = await connect('holder');
        const waiters = await Promise.all(Array.from({ length: 5 }, (_, i) => connect(`waiter-${i}`)));
        const k = key('queue');
        await holder.write(k, 'holder', { when: null });
        // One after another: each call has reached the registry before the next is made.
        const calls: ReturnType<typeof settles<RegistryWriteResult>>[] = [];
        for (const [i, waiter] of waiters.entries()) {
          calls.push(settles(waiter.write(k, `waiter-${i}`, { when: null, wait: true })));
          await roundTrips(waiter, holder);
        }
        let current: RegistryClient = holder;
        let lastRevision = 0;
        for (const [i, call] of calls.entries()) {
          expect(calls.map((c) => c.settled())).toEqual(calls.map((_, j) => j < i));
          await current.remove(k);
          const won = await call.promise;
          expect([i, won.status, won.version]).toEqual([i, Global.OK, 1]);
          expect(won.revision!).toBeGreaterThan(lastRevision);
          lastRevision = won.revision!;
          await roundTrips(...waiters);
          // Exactly one won: the others still wait.
          expect(calls.map((c) => c.settled())).toEqual(calls.map((_, j) => j <= i));
          expect((await holder.listEntries(C)).map((e) => [e.value, e.owner])).toEqual([[`waiter-${i}`, `waiter-${i}`]]);
          current = waiters[i]!;
        }
      });

      it('several concurrent waiters on one removal: exactly one wins, the others keep waiting', async () => {
        const holder = await connect('holder');
        const waiters = await Promise.all(Array.from({ length: 8 }, (_, i) => connect(`waiter-${i}`)));
        const k = key('contended-wait');
        await holder.write(k, 'holder', { when: null });
        const calls = waiters.map((waiter, i) => settles(waiter.write(k, i, { when: null, wait: true })));
        await roundTrips(holder, ...waiters);
        expect(calls.some((c) => c.settled())).toBe(false);
        await holder.remove(k);
        const won = await new Promise<{ i: number; result: RegistryWriteResult }>((resolve) => {
          for (const [i, c] of calls.entries()) c.promise.then((result) => resolve({ i, result }), () => undefined);
        });
        expect(won.result).toEqual(ok(1));
        await roundTrips(holder, ...waiters);
        expect(calls.filter((c) => c.settled()).length).toBe(1);
        expect(await holder.listEntries(C)).toEqual([{ collection: C, name: 'contended-wait', value: won.i, owner: `waiter-${won.i}`, version: 1 }]);
      });

      it('a wait past timeoutMs rejects TIMEOUT and writes nothing later; the waiters after it still win in turn', async () => {
        const holder = await connect('holder');
        const impatient = await connect('impatient');
        const patient = await connect('patient');
        const observer = await connect('observer');
        const seen = record();
        await observer.watch(C, seen.watcher);
        const k = key('timed');
        await holder.write(k, 'holder', { when: null });
        const timedOut = settles(impatient.write(k, 'impatient', { when: null, wait: true, timeoutMs: 100 }));
        await roundTrips(impatient, holder);
        const waiting = settles(patient.write(k, 'patient', { when: null, wait: true }));
        await roundTrips(patient, holder);
        await expectCode(timedOut.promise, 'TIMEOUT');
        expect(waiting.settled()).toBe(false);
        await holder.remove(k);
        expect(await waiting.promise).toEqual(ok(1));
        await patient.remove(k);
        // The timed-out waiter never writes: a third party now finds the key free.
        expect(await observer.write(k, 'observer', { when: null })).toEqual(ok(1));
        expect((await seen.until(5)).map((c) => `${c.type}:${c.entry.owner}`)).toEqual([
          'added:holder',
          'removed:holder',
          'added:patient',
          'removed:patient',
          'added:observer',
        ]);
      });

      it('an aborted signal rejects CANCELLED and writes nothing later; an already aborted one rejects at once', async () => {
        const holder = await connect('holder');
        const waiter = await connect('waiter');
        const observer = await connect('observer');
        const seen = record();
        await observer.watch(C, seen.watcher);
        const k = key('abortable');
        await holder.write(k, 'holder', { when: null });
        const controller = new AbortController();
        const waiting = settles(waiter.write(k, 'waiter', { when: null, wait: true, signal: controller.signal }));
        await roundTrips(waiter, holder);
        expect(waiting.settled()).toBe(false);
        controller.abort();
        await expectCode(waiting.promise, 'CANCELLED');
        const removing = settles(waiter.remove(key('never-there'), { when: { version: 1 }, wait: true, signal: AbortSignal.abort() }));
        await expectCode(removing.promise, 'CANCELLED');
        await expectCode(attempt(() => waiter.write(k, 'w', { when: null, wait: true, signal: AbortSignal.abort() })), 'CANCELLED');
        await holder.remove(k);
        expect(await observer.write(k, 'observer', { when: null })).toEqual(ok(1));
        expect((await seen.until(3)).map((c) => `${c.type}:${c.entry.owner}`)).toEqual(['added:holder', 'removed:holder', 'added:observer']);
      });

      it('a waiter whose client closes is removed: its call rejects and nothing is written for it later', async () => {
        const holder = await connect('holder');
        const waiter = await connect('waiter');
        const observer = await connect('observer');
        const seen = record();
        await observer.watch(C, seen.watcher);
        const k = key('abandoned');
        await holder.write(k, 'holder', { when: null });
        const waiting = settles(waiter.write(k, 'waiter', { when: null, wait: true }));
        await roundTrips(waiter, holder);
        await waiter.close();
        await expect(waiting.promise).rejects.toBeInstanceOf(Error);
        await holder.remove(k);
        expect(await observer.write(k, 'observer', { when: null })).toEqual(ok(1));
        expect((await seen.until(3)).map((c) => `${c.type}:${c.entry.owner}`)).toEqual(['added:holder', 'removed:holder', 'added:observer']);
      });
    });

    describe('waits across a lost channel', () => {
      it('a waiter whose session ends uncleanly is removed: its call rejects and nothing is written for it later', async () => {
        const fixture = suite.fixture();
        if (!fixture.dropUncleanly) return;
        const holder = await connect('holder');
        const waiter = await connect('waiter');
        const observer = await connect('observer');
        const k = key('abandoned-uncleanly');
        await holder.write(k, 'holder', { when: null });
        const waiting = settles(waiter.write(k, 'waiter', { when: null, wait: true }));
        await roundTrips(waiter, holder);
        await fixture.dropUncleanly(waiter);
        await expect(waiting.promise).rejects.toBeInstanceOf(Error);
        await holder.remove(k);
        expect(await observer.write(k, 'observer', { when: null })).toEqual(ok(1));
        expect((await observer.listEntries(C)).map((e) => e.owner)).toEqual(['observer']);
      });

      it('a waiter whose channel is interrupted is told its wait ended, and nothing is written for it meanwhile or later', async () => {
        if (!suite.fixture().interrupt) return;
        const fixture = await suite.reopen({ graceMs: 20_000 });
        const holder = await connect('holder');
        const waiter = await connect('waiter');
        const observer = await connect('observer');
        const k = key('interrupted-wait');
        await holder.write(k, 'holder', { when: null });
        const waiting = settles(waiter.write(k, 'waiter', { when: null, wait: true }));
        await roundTrips(waiter, holder);
        let taken: RegistryWriteResult | null = null;
        await fixture.interrupt!(waiter, async () => {
          await holder.remove(k);
          taken = await observer.write(k, 'observer', { when: null });
        });
        await expect(waiting.promise).rejects.toBeInstanceOf(Error);
        expect(taken).toEqual(ok(1));
        await observer.remove(k);
        await roundTrips(waiter, observer);
        expect(await observer.write(k, 'observer again', { when: null })).toEqual(ok(1));
      });
    });

    describe('wills and retained entries', () => {
      it("applies a will value when its writer ends uncleanly: the entry stays, retained, with that value; the writer's other entries go", async () => {
        const fixture = suite.fixture();
        if (!fixture.dropUncleanly) return;
        const a = await connect('owner-a');
        const observer = await connect('observer');
        const seen = record();
        await observer.watch(R, seen.watcher);
        const other = record();
        await observer.watch(C, other.watcher);
        expect(await a.write(key('service', R), { state: 'up' }, { will: { value: { state: 'down' } } })).toEqual(ok(1));
        // A lock's way: a conditional write with a will.
        expect(await a.write(key('leader', R), { leader: 'owner-a' }, { when: null, will: { value: { leader: null } } })).toEqual(ok(1));
        await a.write(key('plain'), 'goes');
        await a.createEntry(key('created'), 'goes too');
        await seen.until(2);
        await other.until(2);
        await fixture.dropUncleanly(a);
        const changes = await seen.untilMatch('both wills applied', (all) => all.filter((c) => c.type !== 'added').length >= 2);
        expect(changes.slice(2, 4).map((c) => [c.type, c.entry.name, c.entry.value, c.entry.version, c.entry.retained, c.entry.owner]).sort()).toEqual([
          ['updated', 'leader', { leader: null }, 2, true, 'owner-a'],
          ['updated', 'service', { state: 'down' }, 2, true, 'owner-a'],
        ]);
        expect(changes.slice(0, 2).every((c) => c.type === 'added' && c.entry.retained === undefined)).toBe(true);
        const removed = await other.untilMatch('both plain entries removed', (all) => all.filter((c) => c.type === 'removed').length >= 2);
        expect(removed.filter((c) => c.type === 'removed').map((c) => c.entry.name).sort()).toEqual(['created', 'plain']);
        // They outlive their writer, also once the writer is back (a client does not re-create an entry written with a will).
        expect(await observer.listEntries(R)).toEqual([
          { collection: R, name: 'leader', value: { leader: null }, owner: 'owner-a', version: 2, retained: true },
          { collection: R, name: 'service', value: { state: 'down' }, owner: 'owner-a', version: 2, retained: true },
        ]);
        await a.close();
        expect(await observer.getEntry(key('service', R))).toEqual({ state: 'down' });
        expect(await observer.getEntry(key('leader', R))).toEqual({ leader: null });
      });

      it('lets a writer that comes back take the entry its will made back, with a new will: the status pattern', async () => {
        const fixture = suite.fixture();
        if (!fixture.dropUncleanly) return;
        const a = await connect('owner-a');
        const observer = await connect('observer');
        const seen = record();
        await observer.watch(R, seen.watcher);
        await a.write(key('status', R), 'online', { will: { value: 'offline' } });
        await seen.until(1);
        await fixture.dropUncleanly(a);
        await seen.untilMatch('the will applied', (all) => all.some((c) => c.entry.value === 'offline'));
        // Back (the same client after its reconnection, or a new one of the same eva), it says it is online again.
        const back = a.closed ? await connect('owner-a') : a;
        expect(await back.write(key('status', R), 'online', { will: { value: 'offline' } })).toMatchObject({ status: 'OK', version: 3 });
        expect(await observer.listEntries(R)).toEqual([{ collection: R, name: 'status', value: 'online', owner: 'owner-a', version: 3 }]);
        // Its own entry again: a clean close removes it, no will applied.
        await back.close();
        const gone = await seen.untilMatch('the entry removed', (all) => all.some((c) => c.type === 'removed'));
        expect(gone.map(describeChange)).toEqual(['added:status', 'updated:status', 'updated:status', 'removed:status']);
      });

      it('removes an entry whose will is remove: true when its writer ends uncleanly, also one whose earlier will had a value; a retained entry stays', async () => {
        const fixture = suite.fixture();
        if (!fixture.dropUncleanly) return;
        const a = await connect('owner-a');
        const observer = await connect('observer');
        const seen = record();
        await observer.watch(R, seen.watcher);
        await a.write(key('kept', R), 'retained, no will', { retain: true });
        await a.write(key('lease', R), 'removed on an unclean end', { will: { remove: true } });
        await a.write(key('was-a-value', R), 'v1', { will: { value: 'first will' } });
        await a.write(key('was-a-value', R), 'v2', { will: { remove: true } });
        await seen.until(4);
        await fixture.dropUncleanly(a);
        const changes = await seen.untilMatch('two entries removed', (all) => all.filter((c) => c.type === 'removed').length >= 2);
        expect(changes.slice(4, 6).map(describeChange).sort()).toEqual(['removed:lease', 'removed:was-a-value']);
        expect((await observer.listEntries(R)).filter((e) => e.retained).map((e) => [e.name, e.value])).toEqual([['kept', 'retained, no will']]);
      });

      it('a later write without a will clears it: an unclean end then removes the entry as any owned one; a later will replaces the first', async () => {
        const fixture = suite.fixture();
        if (!fixture.dropUncleanly) return;
        const a = await connect('owner-a');
        const observer = await connect('observer');
        const seen = record();
        await observer.watch(R, seen.watcher);
        await a.write(key('cleared', R), 'v1', { will: { value: 'will of cleared' } });
        await a.write(key('cleared', R), 'v2');
        await a.write(key('cleared-by-update', R), 'v1', { will: { value: 'will of cleared-by-update' } });
        await a.updateEntry(key('cleared-by-update', R), 'v2');
        await a.write(key('replaced', R), 'v1', { will: { value: 'first will' } });
        await a.write(key('replaced', R), 'v2', { will: { value: 'second will' } });
        await seen.until(6);
        await fixture.dropUncleanly(a);
        const changes = await seen.untilMatch('three changes after the drop', (all) => all.length >= 9);
        expect(
          changes
            .slice(6, 9)
            .map((c) => `${c.type}:${c.entry.name}:${safeString(c.entry.value)}`)
            .sort(),
        ).toEqual(['removed:cleared-by-update:"v2"', 'removed:cleared:"v2"', 'updated:replaced:"second will"']);
        // (A client that reconnected may have re-created its plain entries since: only the retained one is looked at.)
        expect((await observer.listEntries(R)).filter((e) => e.retained).map((e) => [e.name, e.value])).toEqual([['replaced', 'second will']]);
      });

      it('a waiter wins a key once its holder ends uncleanly, and takes it over from a will value by its fields', async () => {
        const fixture = suite.fixture();
        if (!fixture.dropUncleanly) return;
        const holder = await connect('holder');
        const next = await connect('next');
        const successor = await connect('successor');
        await holder.write(key('lock'), { by: 'holder' }, { when: null, will: { remove: true } });
        await holder.write(key('leader', R), { leader: 'holder' }, { when: null, will: { value: { leader: null } } });
        const lock = settles(next.write(key('lock'), { by: 'next' }, { when: null, wait: true }));
        const leader = settles(successor.write(key('leader', R), { leader: 'successor' }, { when: { fields: { leader: null } }, wait: true, retain: true }));
        await roundTrips(next, successor, holder);
        expect([lock.settled(), leader.settled()]).toEqual([false, false]);
        await fixture.dropUncleanly(holder);
        expect(await lock.promise).toEqual(ok(1));
        expect(await leader.promise).toEqual(ok(3));
        expect((await next.listEntries(C)).map((e) => [e.name, e.value, e.owner])).toEqual([['lock', { by: 'next' }, 'next']]);
        expect((await next.listEntries(R)).map((e) => [e.name, e.value, e.owner, e.retained])).toEqual([['leader', { leader: 'successor' }, 'successor', true]]);
      });

      it('a clean close does not apply wills: the entry is removed as any owned one', async () => {
        const a = await connect('owner-a');
        const observer = await connect('observer');
        const seen = record();
        await observer.watch(R, seen.watcher);
        await a.write(key('service', R), 'up', { will: { value: 'down' } });
        await a.write(key('lease', R), 'up', { will: { remove: true } });
        await a.write(key('kept', R), 'up', { retain: true });
        await seen.until(3);
        await a.close();
        const changes = await seen.until(5);
        expect(changes.slice(3).map((c) => `${c.type}:${c.entry.name}:${safeString(c.entry.value)}`).sort()).toEqual(['removed:lease:"up"', 'removed:service:"up"']);
        expect(await observer.listEntries(R)).toEqual([{ collection: R, name: 'kept', value: 'up', owner: 'owner-a', version: 1, retained: true }]);
        expect(seen.changes).toHaveLength(5);
      });

      it("close({ applyWills: true }) applies only this client's wills: another client of the eva keeps its entry", async () => {
        if (!suite.fixture().connectAgain) return;
        const a = await connect('owner-a');
        const again = await connectAgain('owner-a');
        const observer = await connect('observer');
        expect((await again.write(key('lock', R), 'held by the second client', { when: null, will: { remove: true } })).status).toBe('OK');
        await a.write(key('mine', R), 'up', { will: { value: 'down' } });
        await a.close({ applyWills: true });
        expect(await observer.getEntry(key('mine', R))).toBe('down');
        expect(await observer.getEntry(key('lock', R))).toBe('held by the second client');
      });

      it('close({ applyWills: true }) applies the wills as an unclean end would', async () => {
        const a = await connect('owner-a');
        const observer = await connect('observer');
        const seen = record();
        await observer.watch(R, seen.watcher);
        await a.write(key('service', R), 'up', { will: { value: 'down' } });
        await a.write(key('lease', R), 'up', { will: { remove: true } });
        await a.write(key('plain', R), 'up');
        await seen.until(3);
        await a.close({ applyWills: true });
        const changes = await seen.until(6);
        expect(changes.slice(3).map((c) => `${c.type}:${c.entry.name}:${safeString(c.entry.value)}`).sort()).toEqual([
          'removed:lease:"up"',
          'removed:plain:"up"',
          'updated:service:"down"',
        ]);
        expect(await observer.listEntries(R)).toEqual([{ collection: R, name: 'service', value: 'down', owner: 'owner-a', version: 2, retained: true }]);
        await expectCode(attempt(() => a.write(key('after', R), 1)), 'DESTROYED');
      });

      it('refuses retain: true and a will with a value outside the collections its authorize hook allows: FORBIDDEN, nothing written', async () => {
        const a = await connect('owner-a');
        const k = key('not-allowed');
        await expectCode(attempt(() => a.write(k, 'v', { retain: true })), 'FORBIDDEN');
        await expectCode(attempt(() => a.write(k, 'v', { will: { value: 'w' } })), 'FORBIDDEN');
        await expectCode(attempt(() => a.write(k, 'v', { when: null, wait: true, retain: true })), 'FORBIDDEN');
        await expectCode(attempt(() => a.getEntry(k)), 'NOT_FOUND');
        await a.write(k, 'plain');
        await expectCode(attempt(() => a.write(k, 'v', { will: { value: 'w' } })), 'FORBIDDEN');
        expect(await a.getEntry(k)).toBe('plain');
        // A will that removes needs no retain permission.
        expect(await a.write(k, 'v', { will: { remove: true } })).toEqual(ok(2));
        // A will's value is a value: the size limit holds for it too.
        const maxValueBytes = suite.setup.maxValueBytes ?? 64 * 1024;
        await expectCode(attempt(() => a.write(key('big-will', R), 'small', { will: { value: 'x'.repeat(maxValueBytes - 1) } })), 'TOO_LARGE');
        await expectCode(attempt(() => a.getEntry(key('big-will', R))), 'NOT_FOUND');
      });

      it("a retained entry outlives its writer's close, and others may write and remove it where allowed", async () => {
        const a = await connect('owner-a');
        const b = await connect('owner-b');
        const seen = record();
        await b.watch(C, seen.watcher);
        const retained = record();
        await b.watch(R, retained.watcher);
        const k = key('config', R);
        expect(await a.write(k, { level: 1 }, { retain: true })).toEqual(ok(1));
        // Watchers see that it is retained.
        expect((await retained.until(1))[0]!.entry).toEqual({ collection: R, name: 'config', value: { level: 1 }, owner: 'owner-a', version: 1, retained: true });
        await a.write(key('plain'), 'goes with a');
        expect(await b.listEntries(R)).toEqual([{ collection: R, name: 'config', value: { level: 1 }, owner: 'owner-a', version: 1, retained: true }]);
        await a.close();
        // Once a's plain entry was removed, a's close is done: the retained one stayed.
        await seen.until(2);
        expect(await b.getEntry(k)).toEqual({ level: 1 });
        expect(await b.write(k, { level: 2 }, { retain: true })).toEqual(ok(2));
        expect(await b.listEntries(R)).toEqual([{ collection: R, name: 'config', value: { level: 2 }, owner: 'owner-b', version: 2, retained: true }]);
        const c = await connect('owner-c');
        expect(await c.write(k, { level: 3 }, { retain: true, when: { version: 2 } })).toEqual(ok(3));
        expect(await c.remove(k, { when: { fields: { level: 3 } } })).toEqual(ok(3));
        expect(await b.listEntries(R)).toEqual([]);
      });

      it('lists ordinary entries with no retained key, as 0.1 did', async () => {
        const a = await connect('owner-a');
        await a.createEntry(key('created'), 1);
        await a.write(key('written'), 2);
        await a.write(key('conditional'), 3, { when: null });
        await a.write(key('with-a-will'), 4, { will: { remove: true } });
        const entries = await a.listEntries(C);
        expect(entries.map((e) => e.name)).toEqual(['conditional', 'created', 'with-a-will', 'written']);
        for (const entry of entries) expect([entry.name, Object.keys(entry).sort()]).toEqual([entry.name, ['collection', 'name', 'owner', 'value', 'version']]);
      });
    });

    describe('snapshot and filtered watches', () => {
      it('a snapshot watch is told the entries first, ordered by name, at a revision, then every later change with its revision', async () => {
        const a = await connect('owner-a');
        const b = await connect('owner-b');
        await a.write(key('z'), 'z');
        await b.write(key('b'), { n: 'b' });
        const last = await a.write(key('m'), 'm');
        await a.write(key('other', R), 'elsewhere', { retain: true });
        const seen = record<RegistryWatchEvent>();
        await b.watch(C, seen.watcher, { snapshot: true });
        const [snapshot] = await seen.until(1);
        expect(snapshot).toEqual({
          type: 'snapshot',
          entries: [
            { collection: C, name: 'b', value: { n: 'b' }, owner: 'owner-b', version: 1 },
            { collection: C, name: 'm', value: 'm', owner: 'owner-a', version: 1 },
            { collection: C, name: 'z', value: 'z', owner: 'owner-a', version: 1 },
          ],
          revision: expect.any(Number),
          resync: false,
        });
        expect((snapshot as RegistrySnapshot).revision).toBeGreaterThanOrEqual(last.revision!);
        const added = await a.write(key('a'), 'a');
        const updated = await a.write(key('m'), 'm2');
        const removed = await a.remove(key('z'));
        const changes = await seen.until(4);
        expect(changes.slice(1)).toEqual([
          { type: 'added', entry: { collection: C, name: 'a', value: 'a', owner: 'owner-a', version: 1 }, revision: added.revision },
          { type: 'updated', entry: { collection: C, name: 'm', value: 'm2', owner: 'owner-a', version: 2 }, revision: updated.revision },
          { type: 'removed', entry: { collection: C, name: 'z', value: 'z', owner: 'owner-a', version: 1 }, revision: removed.revision },
        ]);
        expect(added.revision!).toBeGreaterThan((snapshot as RegistrySnapshot).revision);
        const empty = record<RegistryWatchEvent>();
        await b.watch('conformance-coordination-empty', empty.watcher, { snapshot: true });
        expect(await empty.until(1)).toEqual([{ type: 'snapshot', entries: [], revision: expect.any(Number), resync: false }]);
      });

      it('snapshot watches started while others write miss nothing and repeat nothing: each snapshot plus its changes replays to the stored state', async () => {
        const writers = await Promise.all(['writer-0', 'writer-1', 'writer-2', 'writer-3'].map((eva) => connect(eva)));
        const observer = await connect('observer');
        const opsPerWriter = 60;
        let maxRevision = 0;
        let done = 0;
        const milestones: Array<{ at: number; reached: () => void }> = [];
        const progress = (at: number): Promise<void> => new Promise((reached) => (done >= at ? reached() : milestones.push({ at, reached })));
        const run = async (client: RegistryClient, w: number): Promise<void> => {
          const present = new Set<string>();
          for (let n = 0; n < opsPerWriter; n++) {
            const name = `w${w}-${n % 3}`;
            const removing = present.has(name) && n % 4 === 3;
            const result = removing ? await client.remove(key(name)) : await client.write(key(name), { w, n });
            if (removing) present.delete(name);
            else present.add(name);
            maxRevision = Math.max(maxRevision, result.revision!);
            done++;
            for (const milestone of milestones.filter((m) => m.at <= done)) {
              milestones.splice(milestones.indexOf(milestone), 1);
              milestone.reached();
            }
          }
        };
        const writing = Promise.all(writers.map(run));
        // Several watches, each started at another point of the writes: each has its own chance to meet a write
        // while it reads its snapshot.
        const watches: Recorder<RegistryWatchEvent>[] = [];
        for (let k = 0; k < 8; k++) {
          await progress(5 + k * 25);
          const seen = record<RegistryWatchEvent>();
          watches.push(seen);
          await observer.watch(C, seen.watcher, { snapshot: true });
        }
        await writing;
        const stored = await observer.listEntries(C);
        const reached = (events: RegistryWatchEvent[]): boolean => events.length > 0 && (events[events.length - 1]!.revision ?? 0) >= maxRevision;
        for (const [k, seen] of watches.entries()) {
          const events = await seen.untilMatch(`the change at revision ${maxRevision} (watch ${k})`, reached);
          const state = replay(events);
          expect([k, [...state.values()].sort((x, y) => (x.name < y.name ? -1 : 1))]).toEqual([k, stored]);
        }
        // The first watches did start during the writes, or the test proved little.
        expect(watches[0]!.changes.length).toBeGreaterThan(1);
      });

      it('a snapshot larger than a page and a reply arrives whole and ordered, and stays consistent while others write', async () => {
        const fillers = await Promise.all(['filler-0', 'filler-1'].map((eva) => connect(eva)));
        const observer = await connect('observer');
        const pad = 'p'.repeat(200);
        const perFiller = 600;
        const name = (f: number, i: number): string => `e${f}-${String(i).padStart(4, '0')}`;
        // 1200 entries of about 300 bytes of JSON: more than a store page (1000) and than a broker reply (256 KiB).
        for (const [f, filler] of fillers.entries()) {
          for (let start = 0; start < perFiller; start += 50) {
            await Promise.all(Array.from({ length: 50 }, (_, i) => filler.write(key(name(f, start + i)), { f, i: start + i, pad })));
          }
        }
        let maxRevision = 0;
        let done = 0;
        const milestones: Array<{ at: number; reached: () => void }> = [];
        const progress = (at: number): Promise<void> => new Promise((reached) => (done >= at ? reached() : milestones.push({ at, reached })));
        const update = async (client: RegistryClient, f: number): Promise<void> => {
          for (let n = 0; n < 120; n++) {
            const i = (n * 37) % perFiller;
            const result = await client.write(key(name(f, i)), { f, i, n, pad });
            maxRevision = Math.max(maxRevision, result.revision!);
            done++;
            for (const milestone of milestones.filter((m) => m.at <= done)) {
              milestones.splice(milestones.indexOf(milestone), 1);
              milestone.reached();
            }
          }
        };
        const writing = Promise.all(fillers.map(update));
        const watches: Recorder<RegistryWatchEvent>[] = [];
        for (let k = 0; k < 4; k++) {
          await progress(2 + k * 40);
          const seen = record<RegistryWatchEvent>();
          watches.push(seen);
          await observer.watch(C, seen.watcher, { snapshot: true });
        }
        await writing;
        const stored = await observer.listEntries(C);
        expect(stored).toHaveLength(2 * perFiller);
        const reached = (events: RegistryWatchEvent[]): boolean => events.length > 0 && (events[events.length - 1]!.revision ?? 0) >= maxRevision;
        for (const [k, seen] of watches.entries()) {
          const events = await seen.untilMatch(`the change at revision ${maxRevision} (watch ${k})`, reached);
          const snapshot = events[0] as RegistrySnapshot;
          const first = events.slice(0, 3).map((e) => (e.type === 'snapshot' ? `snapshot of ${e.entries.length} at ${e.revision}` : `${describeChange(e)} @${e.revision}`));
          // The snapshot comes first, whole: no change of the collection is told before it.
          expect({ k, snapshotAt: events.findIndex((e) => e.type === 'snapshot'), first }).toMatchObject({ k, snapshotAt: 0 });
          expect([k, snapshot.entries.length]).toEqual([k, 2 * perFiller]);
          const names = snapshot.entries.map((e) => e.name);
          expect(names).toEqual([...names].sort());
          const state = replay(events);
          expect([k, [...state.values()].sort((x, y) => (x.name < y.name ? -1 : 1))]).toEqual([k, stored]);
        }
      });

      it("a plain watch's changes are exactly { type, entry }, as in 0.1; a filtered watch's carry their revision", async () => {
        const a = await connect('owner-a');
        const plain = record();
        const filtered = record();
        await a.watch(C, plain.watcher);
        await a.watch(C, filtered.watcher, { filter: {} });
        const written = await a.write(key('x'), { k: 1 });
        await a.updateEntry(key('x'), { k: 2 });
        const [first, second] = await plain.until(2);
        expect(Object.keys(first!).sort()).toEqual(['entry', 'type']);
        expect(Object.keys(second!).sort()).toEqual(['entry', 'type']);
        const [told] = await filtered.until(2);
        expect(told).toEqual({ type: 'added', entry: { collection: C, name: 'x', value: { k: 1 }, owner: 'owner-a', version: 1 }, revision: written.revision });
        expect(filtered.changes[1]!.revision!).toBeGreaterThan(written.revision!);
      });

      it('a filtered watch is told only matching entries: updated out of the filter as removed, into it as added, its snapshot filtered too', async () => {
        const a = await connect('owner-a');
        const b = await connect('owner-b');
        await a.write(key('x'), { role: 'worker', zone: { name: 'eu', rack: 1 } });
        await a.write(key('y'), { role: 'db', zone: { name: 'eu' } });
        await a.write(key('s'), 'worker');
        await a.write(key('v'), { role: ['worker'] });
        const workers = record<RegistryWatchEvent>();
        await b.watch(C, workers.watcher, { snapshot: true, filter: { role: 'worker' } });
        const inEu = record();
        await b.watch(C, inEu.watcher, { filter: { zone: { name: 'eu' } } });
        const [snapshot] = await workers.until(1);
        expect(snapshot).toMatchObject({ type: 'snapshot', resync: false });
        expect((snapshot as RegistrySnapshot).entries.map((e) => e.name)).toEqual(['x']);
        await a.write(key('y'), { role: 'worker', zone: { name: 'us' } });
        const out = await a.write(key('x'), { role: 'idle', zone: { name: 'eu', rack: 2 } });
        await a.write(key('x'), { role: 'idle', zone: { name: 'us' } });
        await a.remove(key('x'));
        await a.write(key('w'), { role: 'db' });
        await a.remove(key('w'));
        await a.remove(key('y'));
        await a.write(key('marker'), { role: 'worker', zone: { name: 'eu', rack: 9 } });
        const told = await workers.untilMatch('the marker', (all) => all.some((c) => c.type !== 'snapshot' && c.entry.name === 'marker'));
        expect(told.slice(1).map((c) => (c.type === 'snapshot' ? 'snapshot' : `${c.type}:${c.entry.name}:${safeString(c.entry.value)}`))).toEqual([
          'added:y:{"role":"worker","zone":{"name":"us"}}',
          // Updated out of the filter: told as removed, with the value it now has.
          'removed:x:{"role":"idle","zone":{"name":"eu","rack":2}}',
          'removed:y:{"role":"worker","zone":{"name":"us"}}',
          'added:marker:{"role":"worker","zone":{"name":"eu","rack":9}}',
        ]);
        expect((told[2] as RegistryChange).revision).toBe(out.revision);
        expect((told[2] as RegistryChange).entry.version).toBe(2);
        const eu = await inEu.untilMatch('the marker', (all) => all.some((c) => c.entry.name === 'marker'));
        // Nested fields by subset: `zone` must contain name 'eu', whatever else it holds.
        expect(eu.map((c) => `${c.type}:${c.entry.name}:${c.entry.version}`)).toEqual(['removed:y:2', 'updated:x:2', 'removed:x:3', 'added:marker:1']);
      });
    });

    describe('resumed watches', () => {
      it("after an interruption a watch has seen every change once, in order, with no resync; the session's entries stayed", async () => {
        if (!suite.fixture().interrupt) return;
        const fixture = await suite.reopen({ graceMs: 20_000 });
        const a = await connect('owner-a');
        const b = await connect('owner-b');
        const seen = record<RegistryWatchEvent>();
        await b.watch(C, seen.watcher, { snapshot: true });
        const workers = record();
        await b.watch(C, workers.watcher, { filter: { role: 'worker' } });
        await b.write(key('own'), 'kept');
        const results: RegistryWriteResult[] = [await a.write(key('e1'), { role: 'worker' })];
        await seen.until(3);
        await fixture.interrupt!(b, async () => {
          results.push(await a.write(key('e2'), { role: 'worker' }));
          results.push(await a.write(key('e1'), { role: 'idle' }));
          results.push(await a.remove(key('e2')));
          results.push(await a.write(key('e3'), 'three'));
          results.push(await a.write(key('e4'), { role: 'worker' }));
        });
        // And once more: a resumed watch resumes again from what it saw since.
        await fixture.interrupt!(b, async () => {
          results.push(await a.write(key('e3'), { role: 'worker' }));
        });
        results.push(await a.write(key('marker'), { role: 'worker' }));
        const events = await seen.untilMatch('the marker', (all) => all.some((c) => c.type !== 'snapshot' && c.entry.name === 'marker'));
        expect(events.map(describeChange)).toEqual([
          'snapshot:',
          'added:own',
          'added:e1',
          'added:e2',
          'updated:e1',
          'removed:e2',
          'added:e3',
          'added:e4',
          'updated:e3',
          'added:marker',
        ]);
        expect(events.slice(2).map((c) => c.revision)).toEqual(results.map((r) => r.revision));
        const filtered = await workers.untilMatch('the marker', (all) => all.some((c) => c.entry.name === 'marker'));
        expect(filtered.map(describeChange)).toEqual(['added:e1', 'added:e2', 'removed:e1', 'removed:e2', 'added:e4', 'added:e3', 'added:marker']);
        expect((await a.listEntries(C)).find((e) => e.name === 'own')).toEqual({ collection: C, name: 'own', value: 'kept', owner: 'owner-b', version: 1 });
        expect(seen.changes).toHaveLength(events.length);
      });

      it("after an interruption longer than the change log's history a watch gets one resync snapshot with the fresh state, then live changes", async () => {
        if (!suite.fixture().interrupt) return;
        const fixture = await suite.reopen({ graceMs: 20_000, maxLogEntries: 3 });
        const a = await connect('owner-a');
        const b = await connect('owner-b');
        const value = (i: number): object => ({ i, even: i % 2 === 0 });
        const seen = record<RegistryWatchEvent>();
        await b.watch(C, seen.watcher, { snapshot: true });
        const evens = record<RegistryWatchEvent>();
        await b.watch(C, evens.watcher, { snapshot: true, filter: { even: true } });
        await a.write(key('e0'), value(0));
        await seen.until(2);
        await evens.until(2);
        let lastDown = 0;
        await fixture.interrupt!(b, async () => {
          for (let i = 1; i <= 8; i++) lastDown = (await a.write(key(`e${i % 5}`), value(i))).revision!;
          await a.remove(key('e0'));
          lastDown = (await a.write(key('e9'), value(9))).revision!;
        });
        const state = await a.listEntries(C);
        const marker = await a.write(key('marker'), { even: true });
        const hasMarker = (all: RegistryWatchEvent[]): boolean => all.some((c) => c.type !== 'snapshot' && c.entry.name === 'marker');
        const events = await seen.untilMatch('the marker', hasMarker);
        expect(events.map(describeChange)).toEqual(['snapshot:', 'added:e0', `snapshot(resync):${state.map((e) => e.name).join(',')}`, 'added:marker']);
        const resync = events[2] as RegistrySnapshot;
        expect(resync.entries).toEqual(state);
        expect(resync.revision).toBeGreaterThanOrEqual(lastDown);
        expect(events[3]!.revision).toBe(marker.revision);
        expect(marker.revision!).toBeGreaterThan(resync.revision);
        // The resync snapshot of a filtered watch is filtered too.
        const filtered = await evens.untilMatch('the marker', hasMarker);
        expect(filtered.map(describeChange)).toEqual(['snapshot:', 'added:e0', 'snapshot(resync):e1,e3,e4', 'added:marker']);
        expect((filtered[2] as RegistrySnapshot).entries).toEqual(state.filter((e) => (e.value as { even: boolean }).even));
      });
    });

    describe('room collections', () => {
      const presence = (eva: string): RegistryKey => key(`m:${eva}`, ROOM);
      const state = (name: string): RegistryKey => key(`s:${name}`, ROOM);

      it("lets an eva write only its own presence entry m:<eva>, never retained; a room holds only m: and s: entries", async () => {
        const a = await connect('owner-a');
        expect(await a.write(presence('owner-a'), { here: true })).toEqual(ok(1));
        expect(await a.listEntries(ROOM)).toEqual([{ collection: ROOM, name: 'm:owner-a', value: { here: true }, owner: 'owner-a', version: 1 }]);
        await expectCode(attempt(() => a.write(presence('owner-b'), {})), 'FORBIDDEN');
        await expectCode(attempt(() => a.createEntry(presence('owner-b'), {})), 'FORBIDDEN');
        await expectCode(attempt(() => a.write(presence('owner-a'), {}, { retain: true })), 'INVALID_ARGUMENT');
        await expectCode(attempt(() => a.write(presence('owner-a'), {}, { will: { value: 'away' } })), 'INVALID_ARGUMENT');
        await expectCode(attempt(() => a.write(key('topic', ROOM), 'x')), 'INVALID_ARGUMENT');
        expect((await a.listEntries(ROOM)).map((e) => e.name)).toEqual(['m:owner-a']);
      });

      it('lets members write state retained, replace and remove what another member wrote; a non-member is FORBIDDEN; state outlives its writer', async () => {
        const a = await connect('owner-a');
        const b = await connect('owner-b');
        const c = await connect('owner-c');
        await expectCode(attempt(() => a.write(state('topic'), 'early', { retain: true })), 'FORBIDDEN');
        await a.write(presence('owner-a'), {});
        await b.write(presence('owner-b'), {});
        await expectCode(attempt(() => a.write(state('topic'), 'plain')), 'INVALID_ARGUMENT');
        expect(await a.write(state('topic'), 'first', { retain: true, when: null })).toEqual(ok(1));
        expect(await b.write(state('topic'), 'second', { retain: true, when: { version: 1 } })).toEqual(ok(2));
        expect((await a.write(state('topic'), 'stale', { retain: true, when: { version: 1 } })).status).toBe(Global.CONFLICT);
        await expectCode(attempt(() => c.write(state('topic'), 'outsider', { retain: true })), 'FORBIDDEN');
        await expectCode(attempt(() => c.remove(state('topic'))), 'FORBIDDEN');
        expect(await a.write(state('gone'), 1, { retain: true })).toEqual(ok(1));
        expect((await b.remove(state('gone'))).status).toBe(Global.OK);
        await b.close();
        // b left, a stays: b's state stays, retained, b its last writer.
        expect(await c.listEntries(ROOM)).toEqual([
          { collection: ROOM, name: 'm:owner-a', value: {}, owner: 'owner-a', version: 1 },
          { collection: ROOM, name: 's:topic', value: 'second', owner: 'owner-b', version: 2, retained: true },
        ]);
      });

      it("keeps snapshot watches and waits working in a room: a waiting member takes a state entry as another removes it", async () => {
        const a = await connect('owner-a');
        const b = await connect('owner-b');
        const seen = record<RegistryWatchEvent>();
        await a.write(presence('owner-a'), {});
        await b.write(presence('owner-b'), {});
        await a.write(state('turn'), 'owner-a', { retain: true, when: null });
        await b.watch(ROOM, seen.watcher, { snapshot: true });
        const taken = b.write(state('turn'), 'owner-b', { retain: true, when: null, wait: true, timeoutMs: suite.timeoutMs });
        await roundTrips(a, b);
        expect((await a.remove(state('turn'))).status).toBe(Global.OK);
        expect(await taken).toEqual(ok(1));
        const events = await seen.untilMatch('the waiter taking s:turn', (all) => all.some((e) => e.type === 'added' && e.entry.name === 's:turn'));
        expect(events.map(describeChange)).toEqual(['snapshot:m:owner-a,m:owner-b,s:turn', 'removed:s:turn', 'added:s:turn']);
        expect(await a.getEntry(state('turn'))).toBe('owner-b');
      });
    });
  });
}

async function expectOneOf(promise: Promise<unknown>, codes: ErrorCode[], input: unknown): Promise<void> {
  try {
    const value = await promise;
    throw new Error(`Expected a VnfError ${codes.join(' or ')} for ${safeString(input)}; the call resolved ${safeString(value)}.`);
  } catch (err) {
    if (codes.some((code) => VnfError.is(err, code))) return;
    throw err instanceof Error && err.message.startsWith('Expected') ? err : new Error(`Expected a VnfError ${codes.join(' or ')} for ${safeString(input)}; the call rejected ${VnfError.is(err) ? err.code : safeString(err)}.`);
  }
}

/** A promise and whether it has settled yet. */
function settles<T>(promise: Promise<T>): { promise: Promise<T>; settled(): boolean } {
  let done = false;
  promise.then(
    () => (done = true),
    () => (done = true),
  );
  return { promise, settled: () => done };
}

/**
 * Replays a snapshot watch's events: each change must follow the snapshot's revision and the previous change's, and
 * fit the state (added: absent; updated: present, one version on; removed: present, same version). A missed or
 * repeated change breaks one of these.
 */
function replay(events: RegistryWatchEvent[]): Map<string, RegistryEntry> {
  const [first, ...changes] = events;
  if (first?.type !== 'snapshot') throw new Error(`A snapshot watch must be told a snapshot first; got ${describeChanges(events)}.`);
  const state = new Map(first.entries.map((entry) => [entry.name, entry]));
  let revision = first.revision;
  for (const change of changes) {
    const where = `${describeChanges([change])} after revision ${revision} (events: ${describeChanges(events)})`;
    if (change.type === 'snapshot') throw new Error(`Unexpected snapshot: ${where}`);
    if (!(change.revision! > revision)) throw new Error(`Out of order or repeated: ${where}`);
    revision = change.revision!;
    const before = state.get(change.entry.name);
    const fits =
      change.type === 'added'
        ? before === undefined && change.entry.version === 1
        : change.type === 'updated'
          ? before !== undefined && change.entry.version === before.version + 1
          : before !== undefined && change.entry.version === before.version;
    if (!fits) throw new Error(`Does not follow from ${safeString(before)}: ${where}`);
    if (change.type === 'removed') state.delete(change.entry.name);
    else state.set(change.entry.name, change.entry);
  }
  return state;
}

