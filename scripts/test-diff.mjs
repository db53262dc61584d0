#!/usr/bin/env node
// `npm run test:diff -- --runs N [--seed S]`: the differential test
// (test/diff/differential.test.ts: random classic and meta text-protocol sequences
// played on memcached-lite and on a real memcached, replies compared byte for
// byte) with N fast-check runs. `npm test` runs the same file with its default
// (DIFF_RUNS unset: 500 sequences, about 10 s here). Builds dist/ first (the
// test spawns the built server). Prints how many sequences ran and how long
// it took; on a failure, fast-check's report gives the seed and path to
// replay (DIFF_SEED=... DIFF_PATH=...). Other vitest arguments pass through.
import { buildOrExit, isPositiveInteger, runVitest, takeNumber } from './lib.mjs';

const args = process.argv.slice(2);
const runs = takeNumber(args, '--runs', 1000, 'a positive integer', isPositiveInteger);
const seed = takeNumber(args, '--seed', undefined, 'an integer', Number.isInteger);
const env = { DIFF_RUNS: String(runs), ...(seed !== undefined ? { DIFF_SEED: String(seed) } : {}) };

buildOrExit();
const { ok, secs } = runVitest('test/diff/differential.test.ts', args, env);
console.log(`test:diff: ${runs} sequences${seed !== undefined ? ` (seed ${seed})` : ''} ${ok ? 'passed' : 'FAILED'} in ${secs} s`);
process.exit(ok ? 0 : 1);
