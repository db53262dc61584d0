#!/usr/bin/env node
// `npm run test:sim -- --seeds N`: the crash-consistency simulation
// (test/sim/crash.property.test.ts: real engine + WAL + snapshot code on a
// simulated disk, crashes and recoveries) with N fast-check runs, each run
// its own seed and scenario. `npm test` runs the same file with its default
// (SIM_RUNS unset: 1000 runs, ~15-20 s here). Prints how many seeds ran and how long
// it took; on a failure, fast-check's report gives the seed and path to
// replay (SIM_SEED=... SIM_PATH=...). Other vitest arguments pass through.
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const i = args.indexOf('--seeds');
let seeds = 1000;
if (i >= 0) {
  seeds = Number(args[i + 1]);
  if (!Number.isInteger(seeds) || seeds < 1) { console.error('--seeds needs a positive integer'); process.exit(2); }
  args.splice(i, 2);
}
const started = Date.now();
const run = spawnSync(process.execPath, [join(root, 'node_modules/vitest/vitest.mjs'), 'run', 'test/sim/crash.property.test.ts', ...args], {
  cwd: root, stdio: 'inherit', env: { ...process.env, SIM_RUNS: String(seeds) },
});
const secs = ((Date.now() - started) / 1000).toFixed(1);
const ok = run.status === 0;
console.log(`test:sim: ${seeds} seeds ${ok ? 'passed' : 'FAILED'} in ${secs} s (${(seeds / Number(secs)).toFixed(0)} seeds/s)`);
process.exit(ok ? 0 : 1);
