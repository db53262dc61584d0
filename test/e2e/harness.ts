// End-to-end harness: spawns the real bin/memcached-lite (built dist/) on a
// free loopback port (-p 0, or a given one; the port is read from its
// "listening on" line) with a temporary data directory, and always stops it.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const repoRoot = resolve(import.meta.dirname, '../..');
export const serverBin = join(repoRoot, 'bin/memcached-lite');

export interface ServerProcess {
  port: number;
  pid: number;
  dataDir: string;
  proc: ChildProcess;
  stderr(): string;
  /** SIGTERM and wait; resolves to the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait until the process is gone. */
  kill9(): Promise<void>;
}

const running = new Set<ServerProcess>();
const tempDirs: string[] = [];

export function tempDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mcl-e2e-'));
  tempDirs.push(dir);
  return dir;
}

function assertBuilt(): void {
  if (!existsSync(join(repoRoot, 'dist/server.mjs'))) throw new Error('dist/ is missing: run `npm run build` first (npm test does)');
}

/**
 * dataDir: a directory, undefined for a fresh temp one, or null to pass no --data-dir at all.
 * port: a fixed port (to restart a server where clients and proxies expect it), else -p 0.
 */
export interface StartOptions { args?: string[]; dataDir?: string | null; env?: Record<string, string>; cwd?: string; port?: number }

export async function startServer(opts: StartOptions = {}): Promise<ServerProcess> {
  assertBuilt();
  const dataDir = opts.dataDir === null ? '' : opts.dataDir ?? tempDataDir();
  const args = ['-p', String(opts.port ?? 0), ...(dataDir ? ['--data-dir', dataDir] : []), ...(opts.args ?? [])];
  const proc = spawn(process.execPath, [serverBin, ...args], {
    cwd: opts.cwd ?? repoRoot,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const exited = new Promise<number | null>((res) => proc.once('exit', (code) => res(code)));
  const port = await new Promise<number>((res, rej) => {
    proc.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = /listening on [^\s]+:(\d+)/.exec(stderr);
      if (m) res(Number(m[1]));
    });
    void exited.then((code) => rej(new Error(`server exited (${code}) before listening:\n${stderr}`)));
  });
  const server: ServerProcess = {
    port, pid: proc.pid!, dataDir, proc,
    stderr: () => stderr,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const code = await exited;
      running.delete(server);
      return code;
    },
    async kill9() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
      running.delete(server);
    },
  };
  running.add(server);
  return server;
}

/** Runs the server expecting it to exit by itself; resolves to exit code and stderr. */
export async function runServerToExit(opts: StartOptions = {}): Promise<{ code: number | null; stderr: string }> {
  assertBuilt();
  const args = [...(opts.dataDir ? ['--data-dir', opts.dataDir] : []), ...(opts.args ?? [])];
  const proc = spawn(process.execPath, [serverBin, ...args], {
    cwd: opts.cwd ?? repoRoot, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
  const code = await new Promise<number | null>((res) => proc.once('exit', (c) => res(c)));
  clearTimeout(timer);
  return { code, stderr };
}

/** Stops every server still running and removes temp dirs (call from afterAll). */
export async function cleanup(): Promise<void> {
  for (const s of [...running]) await s.kill9();
  for (const d of tempDirs.splice(0)) rmSync(d, { recursive: true, force: true });
}
