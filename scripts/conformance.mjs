#!/usr/bin/env node
// Conformance run: starts bin/memcached-lite (-m 3, as memcached's own
// suite expects for its eviction tests) on a free loopback port with a temp
// data directory, runs memcached-suite's full default list of memcached's
// protocol test files against it (the classic commands and, in metaget, the
// meta commands), stops the server, and fails unless the run ends
// "24 passed, 0 failed".
//
// Uses ../shared/tools/memcached-suite when present, else the vendored copy.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** How many test files memcached-suite runs by default. */
const default_tests = 24;
const expected = `${default_tests} passed, 0 failed`;

const shared = resolve(root, '../shared/tools/memcached-suite');
const suite = process.env.MEMCACHED_SUITE ?? (existsSync(shared) ? shared : join(root, 'test/conformance/memcached-suite'));
const dataDir = mkdtempSync(join(tmpdir(), 'mcl-conformance-'));

const server = spawn(process.execPath, [join(root, 'bin/memcached-lite'), '-p', '0', '-m', '3', '--data-dir', dataDir], { stdio: ['ignore', 'ignore', 'pipe'] });
let log = '';
const port = await new Promise((res, rej) => {
  server.stderr.on('data', (d) => {
    log += d;
    const m = /listening on [^\s]+:(\d+)/.exec(log);
    if (m) res(Number(m[1]));
  });
  server.once('exit', (code) => rej(new Error(`server exited (${code}) before listening:\n${log}`)));
});

let ok = false;
try {
  console.log(`conformance: ${suite} against 127.0.0.1:${port}`);
  const run = spawnSync('bash', [suite, `127.0.0.1:${port}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  process.stdout.write(run.stdout);
  const last = run.stdout.trim().split('\n').pop();
  ok = run.status === 0 && last === expected;
  if (!ok) console.error(`conformance: expected "${expected}", got "${last}" (exit ${run.status})`);
} finally {
  server.kill('SIGTERM');
  const code = await new Promise((res) => server.once('exit', res));
  if (code !== 0) { console.error(`conformance: server exited ${code} on SIGTERM:\n${log}`); ok = false; }
  rmSync(dataDir, { recursive: true, force: true });
}
process.exit(ok ? 0 : 1);
