// Kill torture end to end (driver and checks: crash-driver.ts). `npm test`
// runs a few rounds; `npm run test:crash -- --rounds N` runs more. The seed
// is printed (CRASH_SEED=<seed> repeats a run's random choices).

import { afterAll, describe, expect, it } from 'vitest';
import { runCrashTorture } from './crash-driver.js';
import { cleanup } from './harness.js';

afterAll(cleanup);

const rounds = Number(process.env.CRASH_ROUNDS ?? 4);

describe('kill -9 torture', () => {
  it(`${rounds} rounds of 16 writers, kill -9 at random instants and inside snapshots: every acknowledged write recovered, nothing invented, CAS only grows`, async () => {
    const report = await runCrashTorture({
      rounds,
      ...(process.env.CRASH_SEED ? { seed: Number(process.env.CRASH_SEED) } : {}),
      log: (line) => console.log(line),
    });
    const ctx = `base seed ${report.seed}`;
    expect(report.rounds).toHaveLength(rounds);
    // The rounds really did something: writes acknowledged before every kill,
    // snapshots taken, a kill inside a snapshot, restarts from a snapshot.
    for (const r of report.rounds) expect(r.acked, `${ctx}: round ${r.round} acked`).toBeGreaterThan(50);
    expect(report.rounds.reduce((n, r) => n + r.snapshotsTaken, 0), ctx).toBeGreaterThan(0);
    expect(report.rounds.some((r) => r.killedMidSnapshot), `${ctx}: some kill landed inside a snapshot`).toBe(true);
    expect(report.rounds.filter((r) => r.recoveredFromSnapshot).length, ctx).toBeGreaterThan(0);
  }, 120_000 + rounds * 20_000);
});
