// A stock memcached (/usr/bin/memcached 1.6.18) for tests that compare our
// replies with the real thing: started on a free loopback port with UDP off
// (as root, as user nobody, which memcached requires), stopped by PID. Files
// it must read (an auth file) have to be readable by that user.
//
// converse() sends requests one at a time on one connection and collects
// what each one got back, waiting until the connection is quiet: the same
// list sent to both servers must give the same replies.

import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect } from 'node:net';

export const stock_memcached_bin = '/usr/bin/memcached';

export interface StockMemcached { port: number; stop(): Promise<void> }

const running = new Set<ChildProcess>();

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const probe = createServer();
    probe.once('error', rej);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => res(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = connect({ host: '127.0.0.1', port }, () => { s.destroy(); res(true); });
    s.once('error', () => res(false));
  });
}

export async function startStockMemcached(args: string[] = []): Promise<StockMemcached> {
  const port = await freePort();
  const asUser = process.getuid?.() === 0 ? ['-u', 'nobody'] : [];
  const proc = spawn(stock_memcached_bin, ['-U', '0', '-l', '127.0.0.1', '-p', String(port), ...asUser, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  running.add(proc);
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<void>((res) => proc.once('exit', () => { running.delete(proc); res(); }));
  for (let tries = 0; !(await canConnect(port)); tries++) {
    if (proc.exitCode !== null || tries > 100) {
      proc.kill('SIGKILL');
      throw new Error(`memcached did not start on port ${port}: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}

/** Kills every stock memcached still running (call from afterAll). */
export function stopStockMemcacheds(): void {
  for (const proc of running) proc.kill('SIGKILL');
}

/** Sends each part in turn on one connection; returns what each got back (latin1), once quiet for quietMs. */
export async function converse(port: number, parts: readonly (string | Buffer)[], quietMs = 100): Promise<string[]> {
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise<void>((res, rej) => { socket.once('connect', res); socket.once('error', rej); });
  let received = '';
  let lastDataAt = Date.now();
  socket.on('data', (d: Buffer) => { received += d.toString('latin1'); lastDataAt = Date.now(); });
  socket.on('error', () => {});
  const replies: string[] = [];
  for (const part of parts) {
    received = '';
    const sentAt = Date.now();
    socket.write(part);
    while (Date.now() - Math.max(sentAt, lastDataAt) < quietMs) await new Promise((r) => setTimeout(r, 10));
    replies.push(received);
  }
  socket.destroy();
  return replies;
}
