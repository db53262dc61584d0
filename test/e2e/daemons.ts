// Stock daemons for tests: memcached 1.6 (/usr/bin/memcached) and twemproxy
// (/usr/sbin/nutcracker), each on a free loopback port, stopped by PID.
// stopDaemons() (call from afterAll) kills whatever is still running and
// removes the temp files.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

export const memcached_bin = '/usr/bin/memcached';
export const nutcracker_bin = '/usr/sbin/nutcracker';

export interface Daemon {
  port: number;
  pid: number;
  output(): string;
  /** SIGTERM (or SIGKILL) and wait until the process is gone. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

const running = new Set<Daemon>();
const temps: string[] = [];

export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mcl-daemons-'));
  temps.push(dir);
  return dir;
}

/** A port nothing listens on right now (the kernel's pick for port 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts connections on the port (polling, bounded). */
export async function waitListening(port: number, alive: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!alive()) throw new Error(`${what} exited before listening on ${port}`);
    const ok = await new Promise<boolean>((res) => {
      const s = connect({ host: '127.0.0.1', port }, () => { s.destroy(); res(true); });
      s.once('error', () => res(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${what} is not listening on ${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Spawns bin and waits until it listens on every port (the first is Daemon.port). */
async function startDaemon(bin: string, args: string[], ports: number[]): Promise<Daemon> {
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout!.on('data', (d: Buffer) => { output += d.toString(); });
  proc.stderr!.on('data', (d: Buffer) => { output += d.toString(); });
  const exited = new Promise<void>((res) => proc.once('exit', () => res()));
  const daemon: Daemon = {
    port: ports[0]!, pid: proc.pid!, output: () => output,
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      await exited;
      running.delete(daemon);
    },
  };
  running.add(daemon);
  try {
    const alive = (): boolean => proc.exitCode === null && proc.signalCode === null;
    for (const port of ports) await waitListening(port, alive, `${bin} ${args.join(' ')}\n${output}`);
  } catch (err) {
    await daemon.stop('SIGKILL');
    throw err;
  }
  return daemon;
}

/** Stock memcached on 127.0.0.1 (no UDP), with extra arguments (-Y file, -Z -o ssl_..., ...). */
export async function startMemcached(args: string[] = [], port?: number): Promise<Daemon> {
  const p = port ?? await freePort();
  // memcached refuses to run as root without -u; naming the current user works either way.
  return startDaemon(memcached_bin, ['-U', '0', '-l', '127.0.0.1', '-p', String(p), '-u', userInfo().username, ...args], [p]);
}

export interface PoolConfig {
  hash: 'md5' | 'fnv1a_64';
  /** twemproxy server lines: "127.0.0.1:PORT:WEIGHT [name]". */
  servers: string[];
  autoEjectHosts?: boolean;
  timeoutMs?: number;
}

/** nutcracker with one memcached pool per config (distribution: ketama), each on its own port; returns the ports in order. */
export async function startNutcracker(pools: PoolConfig[]): Promise<{ daemon: Daemon; ports: number[] }> {
  const dir = tempDir();
  const ports: number[] = [];
  let yaml = '';
  for (const [i, pool] of pools.entries()) {
    const port = await freePort();
    ports.push(port);
    yaml += [
      `pool${i}:`,
      `  listen: 127.0.0.1:${port}`,
      `  hash: ${pool.hash}`,
      '  distribution: ketama',
      `  auto_eject_hosts: ${pool.autoEjectHosts ?? false}`,
      `  timeout: ${pool.timeoutMs ?? 2000}`,
      '  preconnect: false',
      '  servers:',
      ...pool.servers.map((s) => `   - ${s}`),
      '',
    ].join('\n');
  }
  const conf = join(dir, 'nutcracker.yml');
  writeFileSync(conf, yaml);
  const statsPort = await freePort();
  const args = ['-c', conf, '-a', '127.0.0.1', '-s', String(statsPort), '-o', join(dir, 'nutcracker.log')];
  return { daemon: await startDaemon(nutcracker_bin, args, ports), ports };
}

export async function stopDaemons(): Promise<void> {
  for (const d of [...running]) await d.stop('SIGKILL');
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
}
