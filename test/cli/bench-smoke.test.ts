// Smoke run of `mcl bench --quick` (bin/mcl -> src/cli/bench) against the
// real memcached-lite (test/e2e/harness.ts; needs `npm run build`), shrunk to
// a few seconds: results.json holds every point and run with sane numbers
// (every GET of an acknowledged key hits, noreply SETs included), and every
// SVG is written, well-formed, and shows the server. Plus the exit statuses
// for a bad command line and an unreachable server.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBench } from '../../src/cli/bench/main.js';
import type { LatencySummary } from '../../src/cli/bench/histogram.js';
import type { BenchResults } from '../../src/cli/bench/results.js';
import { xmlProblem } from './bench/xml.js';
import { cleanup, repoRoot, startServer, type ServerProcess } from '../e2e/harness.js';

const outDir = mkdtempSync(join(tmpdir(), 'mcl-bench-smoke-'));
let server: ServerProcess;

beforeAll(async () => { server = await startServer(); });
afterAll(async () => {
  await cleanup();
  rmSync(outDir, { recursive: true, force: true });
});

function runMcl(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [join(repoRoot, 'bin/mcl'), ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    proc.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    proc.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    proc.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

function saneLatency(l: LatencySummary): void {
  expect(l.count).toBeGreaterThan(0);
  expect(l.minMs).toBeGreaterThan(0);
  expect(l.p50Ms).toBeGreaterThanOrEqual(l.minMs);
  expect(l.p99Ms).toBeGreaterThanOrEqual(l.p50Ms);
  expect(l.p999Ms!).toBeGreaterThanOrEqual(l.p99Ms);
  expect(l.maxMs).toBeGreaterThanOrEqual(l.p999Ms!);
  expect(l.avgMs).toBeGreaterThanOrEqual(l.minMs);
  expect(l.avgMs).toBeLessThanOrEqual(l.maxMs);
  expect(l.maxMs).toBeLessThan(10_000);
}

describe('mcl bench --quick against memcached-lite', () => {
  let run: { code: number | null; stdout: string; stderr: string };
  let results: BenchResults;

  beforeAll(async () => {
    run = await runMcl(['bench', '--server', `lite=127.0.0.1:${server.port}`, '--out', outDir, '--quick',
      '--ns', '4,8', '--requests', '3', '--duration', '0.5', '--depths', '1,4', '--keyspace', '500']);
    results = JSON.parse(readFileSync(join(outDir, 'results.json'), 'utf8')) as BenchResults;
  }, 30_000);

  it('exits 0, reports on stdout and progress on stderr', () => {
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('Original (one connection per request)');
    expect(run.stdout).toContain('Targets:');
    expect(run.stdout).toContain(join(outDir, 'results.json'));
    // not a terminal: one line per step, no redrawn bar
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(12);
    expect(lines[0]).toBe('mcl bench: [1/12] lite: original SET N=4 (12 connections)');
    expect(lines[11]).toBe('mcl bench: [12/12] lite: modern MIXED 50 conns depth 4 (0.5 s)');
    expect(run.stderr).not.toContain('\r');
  });

  it('records the server and what it says about durability', () => {
    expect(results.servers).toEqual([{ name: 'lite', host: '127.0.0.1', port: server.port, protocol: 'memcached', version: '1.6.18', durability: 'fsync always' }]);
    expect(results.problems).toEqual([]);
  });

  it('has every original point, all requests answered, every GET a hit', () => {
    expect(results.original.map((p) => `${p.section}@${p.clients}`)).toEqual(['set@4', 'get@4', 'mixed@4', 'set@8', 'get@8', 'mixed@8']);
    for (const p of results.original) {
      expect(p).toMatchObject({ server: 'lite', requestsPerClient: 3, errors: 0, misses: 0, ok: p.clients * 3 });
      saneLatency(p.latency);
      expect(p.throughputOpsPerS).toBeGreaterThan(0);
      expect(p.generatorCpuPct).toBeGreaterThan(0);
    }
    const sets = results.original.filter((p) => p.section === 'set');
    // 36 SETs, each noreply with probability 1/2 (seed 1 gives some of each)
    const noreply = sets.reduce((n, p) => n + p.noreplySets, 0);
    expect(noreply).toBeGreaterThan(0);
    expect(noreply).toBeLessThan(36);
    for (const p of results.original.filter((q) => q.section === 'mixed')) expect(p.byOp.set!.count + p.byOp.get!.count).toBe(p.ok);
  });

  it('has every modern run at each depth, throughput matching the per-second samples, no misses', () => {
    expect(results.modern.map((m) => `${m.section}@${m.depth}`)).toEqual(['set@1', 'get@1', 'mixed@1', 'set@4', 'get@4', 'mixed@4']);
    for (const m of results.modern) {
      expect(m).toMatchObject({ server: 'lite', tool: 'mcl bench', clients: 50, durationS: 0.5, errors: 0, misses: 0 });
      expect(m.ok).toBeGreaterThan(50);
      expect(m.perSecond).toHaveLength(1);
      expect(m.perSecond[0]).toBe(m.ok + m.misses);
      expect(m.throughputOpsPerS).toBe(Math.round((m.ok + m.misses) / 0.5));
      saneLatency(m.latency);
    }
  });

  it('lists the targets, unmeasured without stock memcached or Redis', () => {
    expect(results.targets.map((t) => t.id)).toEqual([
      'original_get_latency_vs_memcached', 'original_durable_set_latency_vs_memcached',
      'modern_durable_set_throughput_vs_redis_depth1', 'modern_get_throughput_vs_memcached_depth1',
      'modern_durable_set_throughput_vs_redis_depth4', 'modern_get_throughput_vs_memcached_depth4',
    ]);
    for (const t of results.targets) expect(t).toMatchObject({ numerator: 'lite', value: null, met: null, note: 'no server to compare with' });
  });

  it('writes every SVG, well-formed, with the server as a series', () => {
    const files = ['original-set-avg', 'original-set-p99', 'original-get-avg', 'original-get-p99', 'original-mixed-avg', 'original-mixed-p99',
      'modern-throughput-d1', 'modern-timeline-d1', 'modern-throughput-d4', 'modern-timeline-d4'];
    for (const f of files) {
      const path = join(outDir, `${f}.svg`);
      expect(existsSync(path), path).toBe(true);
      const svg = readFileSync(path, 'utf8');
      expect(xmlProblem(svg), f).toBeNull();
      expect(svg).toContain('data-series="lite"');
    }
  });
});

describe('mcl bench exit statuses', () => {
  const io = () => {
    const out = { stdout: '', stderr: '' };
    return { out, io: { stdout: (t: string) => { out.stdout += t; }, stderr: { write: (t: string) => { out.stderr += t; } } } };
  };

  it('2 with the usage for a bad command line, 0 for --help', async () => {
    const a = io();
    expect(await runBench(['--server', 'x'], a.io)).toBe(2);
    expect(a.out.stderr).toContain("mcl bench: --server: 'x' is not [NAME=]HOST:PORT");
    expect(a.out.stderr).toContain('Usage: mcl bench');
    const b = io();
    expect(await runBench(['--help'], b.io)).toBe(0);
    expect(b.out.stderr).toMatch(/^Usage: mcl bench/);
  });

  it('3 when a server does not answer, before measuring anything', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); });
    });
    const dir = join(outDir, 'unreachable');
    const a = io();
    expect(await runBench(['--server', `gone=127.0.0.1:${port}`, '--out', dir, '--no-progress'], a.io)).toBe(3);
    expect(a.out.stderr).toMatch(new RegExp(`mcl bench: gone \\(127\\.0\\.0\\.1:${port}\\) does not answer: .*ECONNREFUSED`));
    expect(existsSync(dir)).toBe(false);
  });
});
