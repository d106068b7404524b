// Protocol fuzz: 2 × 10⁴ fuzzed frames (garbled control JSON, random and truncated record frames, huge lengths,
// wrong kinds, hello variants on fresh sockets) from attacker sockets, mixed with an honest pair's sequenced
// traffic. The honest pair must see nothing lost, duplicated or reordered, nobody honest is disconnected, and the
// broker stays up. Replay a run with VNF_FUZZ_SEED=<seed>; VNF_FUZZ_FRAMES=<n> changes the count.
import fc from 'fast-check';
import { trackResources } from '@vnf/conformance';
import { startBroker } from '../fixture';
import { Fuzzer, directedFrames, fuzzFrameArbitrary } from './fuzzFrames';
import { HonestPair, Scope, until } from './support';

const FRAMES = Number(process.env.VNF_FUZZ_FRAMES ?? 20_000);
const SEED = Number(process.env.VNF_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const MAX_PAYLOAD = 256 * 1024;

let scope: Scope;
beforeEach(() => {
  scope = new Scope();
});
afterEach(() => scope.close());

it(`fuzz: ${FRAMES} attacker frames never harm an honest pair: nothing lost, duplicated or reordered, nobody honest disconnected or impersonated`, async () => {
  const resources = trackResources();
  try {
    // The control-rate limit would close most fuzzing sockets within a second: lifted, so the fuzz reaches deep.
    const running = scope.add(await startBroker({ maxPayload: MAX_PAYLOAD, maxControlPerSecond: 0, maxControlPerSecondPerClient: 0 }));
    const pair = scope.add(await HonestPair.open(running.url, 'fuzz'));
    const honest = [pair.a.eva, pair.b.eva];
    const fuzzer = new Fuzzer(running.url, MAX_PAYLOAD, { honestEvas: honest });
    scope.defer(() => fuzzer.close());
    const random = fc.sample(fuzzFrameArbitrary([...honest, ...Fuzzer.evaNames()]), { seed: SEED, numRuns: FRAMES });
    // The directed claims of the honest evas go in at seeded places among the random frames.
    const frames = [...random];
    directedFrames(honest).forEach((frame, i) => frames.splice((SEED + i * 7919) % frames.length, 0, frame));

    let sent = 0;
    await fuzzer.send(frames, (i) => {
      // Every 20 fuzz frames the honest pair sends one message each way, without waiting: it rides along.
      if (i % 20 === 0) {
        pair.sendOne();
        sent++;
      }
    });
    await pair.settled(30_000);
    await pair.exchange(50);
    await fuzzer.close();

    const stats = fuzzer.stats;
    if (process.env.VNF_FUZZ_VERBOSE) console.log(JSON.stringify({ seed: SEED, ...stats, strangers: pair.strangers, honestErrors: pair.errors.length }));
    expect(stats.frames).toBe(frames.length);
    expect(stats.anomalies).toEqual([]);
    pair.assertHealthy();
    expect(pair.delivered).toBe(sent + 50);
    // The broker forgot every attacker socket: only the pair is left, and a newcomer pair still gets through.
    await until('the broker to forget the attackers', () => running.broker.connectionCount === 2, 10_000, () => String(running.broker.connectionCount));
    const after = scope.add(await HonestPair.open(running.url, 'after-fuzz'));
    await after.exchange(20);
    after.assertHealthy();
  } catch (err) {
    (err as Error).message = `fuzz seed ${SEED} (replay: VNF_FUZZ_SEED=${SEED}): ${(err as Error).message}`;
    throw err;
  }
  await scope.close();
  await resources.released(5000);
}, 120_000);
