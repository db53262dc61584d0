#!/usr/bin/env node
// `npm run test:crash -- --rounds N [--seed S]`: the kill torture of
// test/e2e/crash-torture.test.ts (same driver, test/e2e/crash-driver.ts) for
// N rounds on one data directory. Builds first, prints each round's seed and
// ends with one summary line; exits 1 on the first violation (with its seed).
import { register } from 'node:module';
import { buildOrExit, isNonNegativeInteger, takeNumber } from './lib.mjs';

const args = process.argv.slice(2);
const rounds = takeNumber(args, '--rounds', 20, 'a non-negative integer', isNonNegativeInteger);
const seed = takeNumber(args, '--seed', process.env.CRASH_SEED ? Number(process.env.CRASH_SEED) : undefined, 'a non-negative integer', isNonNegativeInteger);
if (rounds < 1) { console.error('--rounds must be at least 1'); process.exit(2); }

buildOrExit();
register('./ts-hooks.mjs', import.meta.url);
const { runCrashTorture } = await import('../test/e2e/crash-driver.ts');
const { cleanup } = await import('../test/e2e/harness.ts');

let code = 0;
try {
  const report = await runCrashTorture({ rounds, ...(seed !== undefined ? { seed } : {}), log: (line) => console.log(line) });
  const mid = report.rounds.filter((r) => r.killedMidSnapshot).length;
  const fromSnap = report.rounds.filter((r) => r.recoveredFromSnapshot).length;
  const inFlight = report.rounds.reduce((n, r) => n + r.inFlight, 0);
  const applied = report.rounds.reduce((n, r) => n + r.inFlightApplied, 0);
  console.log(`test:crash: ${report.rounds.length} rounds, ${report.acked} ops acked, ${inFlight} in flight at kills (${applied} found applied), ${mid} kills inside a snapshot, ${fromSnap} restarts from a snapshot, base seed ${report.seed}, ${(report.ms / 1000).toFixed(1)} s: OK`);
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  console.log('test:crash: FAILED');
  code = 1;
} finally {
  await cleanup();
}
process.exit(code);
