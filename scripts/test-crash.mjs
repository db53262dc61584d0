#!/usr/bin/env node
// `npm run test:crash -- --rounds N [--seed S]`: the kill torture of
// test/e2e/crash-torture.test.ts (same driver, test/e2e/crash-driver.ts) for
// N rounds on one data directory. Builds first, prints each round's seed and
// ends with one summary line; exits 1 on the first violation (with its seed).
import { spawnSync } from 'node:child_process';
import { register } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function flag(name, fallback) {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 0) { console.error(`${name} needs a non-negative integer`); process.exit(2); }
  return v;
}
const rounds = flag('--rounds', 20);
const seed = flag('--seed', process.env.CRASH_SEED ? Number(process.env.CRASH_SEED) : undefined);
if (rounds < 1) { console.error('--rounds must be at least 1'); process.exit(2); }

if (spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' }).status !== 0) process.exit(1);
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
