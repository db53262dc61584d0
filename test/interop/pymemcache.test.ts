// Interop: Python's pymemcache (Debian's python3-pymemcache, run with
// /usr/bin/python3 because the first python3 on PATH may be a build without
// it) against our server (or stock memcached with INTEROP_SERVER=memcached,
// see target.ts). Each check is one run of pymemcache_check.py, which asserts
// through pymemcache's public API and prints the writes the server
// acknowledged; after our server is killed with SIGKILL (kill -9) and started
// again on the same port and data dir, a last run reads all of them back.

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupTargets, startTarget, type Target } from './target.js';

const python = '/usr/bin/python3';
const script = join(import.meta.dirname, 'pymemcache_check.py');
const run_deadline_ms = 15_000;

let target: Target;
const acked: Record<string, string | null> = {};

beforeAll(async () => { target = await startTarget(); });

afterAll(async () => {
  await target?.stop();
  await cleanupTargets();
});

interface RunResult { code: number | null; stdout: string; stderr: string }

/** Runs one check of pymemcache_check.py; SIGKILLs it after run_deadline_ms. */
function runCheck(check: string, stdin = ''): Promise<RunResult> {
  return new Promise((res, rej) => {
    const proc = spawn(python, [script, String(target.port), check], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    proc.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => proc.kill('SIGKILL'), run_deadline_ms);
    proc.once('error', rej);
    proc.once('close', (code) => { clearTimeout(timer); res({ code, stdout, stderr }); });
    proc.stdin.end(stdin);
  });
}

/** Runs a check, expects success, and records the writes it reports acknowledged. */
async function passes(check: string): Promise<void> {
  const { code, stdout, stderr } = await runCheck(check);
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  const lastLine = stdout.trimEnd().split('\n').at(-1) ?? '';
  Object.assign(acked, JSON.parse(lastLine) as Record<string, string | null>);
}

describe('pymemcache (python3-pymemcache)', () => {
  it('set then get a short value', () => passes('set_get'));
  it('stores and returns a 500 KiB and a 1 MiB value intact', () => passes('big_values'));
  it('get_many returns every hit and leaves out the misses', () => passes('multi_get'));
  it('incr and decr (floors at 0; NOT_FOUND; non-numeric value refused)', () => passes('incr_decr'));
  it('gets returns a cas id; cas stores, answers EXISTS when stale, NOT_FOUND when missing', () => passes('gets_cas'));
  it('touch extends a TTL: the touched item outlives an untouched twin', () => passes('touch'));
  it('delete removes a key; deleting a missing key answers NOT_FOUND', () => passes('delete'));
  it('noreply (pymemcache\'s default) set, incr, delete, add apply in order', () => passes('noreply'));
  it('stats and stats settings parse into pymemcache\'s types; counters move with the traffic', () => passes('stats'));

  it('a failing expectation in the script is reported (exit 1, reason on stderr)', async () => {
    const { code, stderr } = await runCheck('verify', JSON.stringify({ 'never-set': 'x' }));
    expect(code).toBe(1);
    expect(stderr).toMatch(/^verify: never-set: expected 1 bytes, got a miss/);
  });

  it('every acknowledged write survives kill -9, read back through pymemcache', async () => {
    expect(Object.keys(acked).sort()).toEqual([ // every check above reported its writes
      'big:1m', 'big:500k', 'cas:key', 'counter', 'counter:text', 'doomed', 'greeting', 'multi:a', 'multi:b',
      'nr:count', 'nr:gone', 'nr:set', 'ttl:touched', 'ttl:untouched',
    ]);
    await target.restart('kill9');
    const { code, stderr } = await runCheck('verify', JSON.stringify(acked));
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  });
});
