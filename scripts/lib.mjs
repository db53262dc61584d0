// What the longer-run test scripts (test-crash, test-sim, test-diff,
// test-soak) share: the repository root, their numeric flags, building
// dist/ first, and running one vitest file.
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export const isPositiveInteger = (v) => Number.isInteger(v) && v >= 1;
export const isNonNegativeInteger = (v) => Number.isInteger(v) && v >= 0;
export const isPositiveNumber = (v) => Number.isFinite(v) && v > 0;

/**
 * Removes `--name value` from args and returns the value as a number, or
 * `fallback` when the flag is absent; exits 2 with "<name> needs <what>"
 * unless accept(value).
 */
export function takeNumber(args, name, fallback, what, accept) {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const raw = args[i + 1];
  const value = raw === undefined || raw.trim() === '' ? NaN : Number(raw);
  if (!accept(value)) {
    console.error(`${name} needs ${what}`);
    process.exit(2);
  }
  args.splice(i, 2);
  return value;
}

/** `npm run build`; exits 1 if it fails. */
export function buildOrExit() {
  if (spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' }).status !== 0) process.exit(1);
}

/** Runs one test file with vitest (extra arguments passed through); resolves to whether it passed and how long it took. */
export function runVitest(file, args, env) {
  const started = Date.now();
  const run = spawnSync(process.execPath, [join(root, 'node_modules/vitest/vitest.mjs'), 'run', file, ...args], {
    cwd: root, stdio: 'inherit', env: { ...process.env, ...env },
  });
  return { ok: run.status === 0, secs: ((Date.now() - started) / 1000).toFixed(1) };
}
