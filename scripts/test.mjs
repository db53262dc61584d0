#!/usr/bin/env node
// The test command (`npm test`): builds, runs every vitest suite, then the
// memcached conformance run, and ends with one summary line
// "total: N passed, M failed" (vitest tests + conformance files). Exits
// non-zero if anything failed or if no test ran at all.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const run = (cmd, args, opts = {}) => spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });

const build = run('npm', ['run', 'build']);
if (build.status !== 0) { console.log('total: 0 passed, 1 failed'); process.exit(1); }

const out = mkdtempSync(join(tmpdir(), 'mcl-vitest-'));
const jsonPath = join(out, 'results.json');
const vitest = run(process.execPath, [join(root, 'node_modules/vitest/vitest.mjs'), 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${jsonPath}`, ...process.argv.slice(2)]);
let passed = 0;
let failed = 0;
try {
  const results = JSON.parse(readFileSync(jsonPath, 'utf8'));
  passed += results.numPassedTests;
  failed += results.numFailedTests + (results.numFailedTestSuites ?? 0);
} catch {
  failed += 1;
}
rmSync(out, { recursive: true, force: true });
if (vitest.status !== 0 && failed === 0) failed += 1;

const conformance = run(process.execPath, [join(root, 'scripts/conformance.mjs')], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
process.stdout.write(conformance.stdout);
const m = /(\d+) passed, (\d+) failed\s*$/.exec(conformance.stdout);
if (m) { passed += Number(m[1]); failed += Number(m[2]); }
if (conformance.status !== 0 && !(m && Number(m[2]) > 0)) failed += 1;

console.log(`total: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
