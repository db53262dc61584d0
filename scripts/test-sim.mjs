#!/usr/bin/env node
// `npm run test:sim -- --seeds N`: the crash-consistency simulation
// (test/sim/crash.property.test.ts: real engine + WAL + snapshot code on a
// simulated disk, crashes and recoveries) with N fast-check runs, each run
// its own seed and scenario. `npm test` runs the same file with its default
// (SIM_RUNS unset: 1000 runs, ~15-20 s here). Prints how many seeds ran and how long
// it took; on a failure, fast-check's report gives the seed and path to
// replay (SIM_SEED=... SIM_PATH=...). Other vitest arguments pass through.
import { isPositiveInteger, runVitest, takeNumber } from './lib.mjs';

const args = process.argv.slice(2);
const seeds = takeNumber(args, '--seeds', 1000, 'a positive integer', isPositiveInteger);
const { ok, secs } = runVitest('test/sim/crash.property.test.ts', args, { SIM_RUNS: String(seeds) });
console.log(`test:sim: ${seeds} seeds ${ok ? 'passed' : 'FAILED'} in ${secs} s (${(seeds / Number(secs)).toFixed(0)} seeds/s)`);
process.exit(ok ? 0 : 1);
