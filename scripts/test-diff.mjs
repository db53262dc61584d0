#!/usr/bin/env node
// `npm run test:diff -- --runs N [--seed S]`: the differential test
// (test/diff/differential.test.ts: random classic and meta text-protocol sequences
// played on memcached-lite and on a real memcached, replies compared byte for
// byte) with N fast-check runs. `npm test` runs the same file with its default
// (DIFF_RUNS unset: 500 sequences, about 10 s here). Builds dist/ first (the
// test spawns the built server). Prints how many sequences ran and how long
// it took; on a failure, fast-check's report gives the seed and path to
// replay (DIFF_SEED=... DIFF_PATH=...). Other vitest arguments pass through.
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);

/** Removes `--name value` from args and returns the value, or undefined. */
function option(name) {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const value = args[i + 1];
  if (value === undefined || !/^-?\d+$/.test(value)) { console.error(`${name} needs an integer`); process.exit(2); }
  args.splice(i, 2);
  return value;
}

const runs = Number(option('--runs') ?? 1000);
if (runs < 1) { console.error('--runs needs a positive integer'); process.exit(2); }
const seed = option('--seed');
const env = { ...process.env, DIFF_RUNS: String(runs), ...(seed !== undefined ? { DIFF_SEED: seed } : {}) };

const build = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(1);
const started = Date.now();
const run = spawnSync(process.execPath, [join(root, 'node_modules/vitest/vitest.mjs'), 'run', 'test/diff/differential.test.ts', ...args], {
  cwd: root, stdio: 'inherit', env,
});
const secs = ((Date.now() - started) / 1000).toFixed(1);
const ok = run.status === 0;
console.log(`test:diff: ${runs} sequences${seed !== undefined ? ` (seed ${seed})` : ''} ${ok ? 'passed' : 'FAILED'} in ${secs} s`);
process.exit(ok ? 0 : 1);
