// The server an interop test talks to. By default it is our own
// bin/memcached-lite (test/e2e/harness.ts: built dist/, temp data dir). With
// INTEROP_SERVER=memcached it is a stock /usr/bin/memcached on a free loopback
// port instead, which proves the tests themselves right: every step runs the
// same except restart(), which does nothing there (stock memcached keeps
// nothing across a restart, so the read-back then checks the running server).
//
// Invariants: restart() brings our server back on the same port and data dir,
// so a client built before it reconnects as a user's would; stop() is safe to
// call twice; cleanupTargets() (afterAll) kills whatever is still running.

import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { cleanup, startServer, type ServerProcess } from '../e2e/harness.js';

export const againstStock = process.env['INTEROP_SERVER'] === 'memcached';
export const stockMemcachedBin = '/usr/bin/memcached';

/** -I 2m on both servers, so a value of exactly 1 MiB fits with its key and item overhead. */
export const itemSizeArgs = ['-I', '2m'];
export const mib = 1024 * 1024;

export interface Target {
  readonly port: number;
  readonly label: string;
  /** Stops the server ('term': SIGTERM, 'kill9': SIGKILL) and starts it again on the same port and data. */
  restart(how: 'term' | 'kill9'): Promise<void>;
  stop(): Promise<void>;
}

const stockProcesses = new Set<ChildProcess>();

export async function startTarget(args: string[] = itemSizeArgs): Promise<Target> {
  return againstStock ? startStock(args) : startOurs(args);
}

/** Call from afterAll: stops every server an interop test started. */
export async function cleanupTargets(): Promise<void> {
  for (const proc of [...stockProcesses]) await killAndWait(proc, 'SIGKILL');
  await cleanup();
}

async function startOurs(args: string[]): Promise<Target> {
  let server: ServerProcess = await startServer({ args });
  const { port, dataDir } = server;
  return {
    port,
    label: `memcached-lite (pid ${server.pid})`,
    async restart(how) {
      if (how === 'kill9') await server.kill9();
      else if ((await server.stop()) !== 0) throw new Error(`memcached-lite did not exit 0 on SIGTERM:\n${server.stderr()}`);
      server = await startServer({ dataDir, args: [...args, '-p', String(port)] });
    },
    async stop() { await server.stop(); },
  };
}

async function startStock(args: string[]): Promise<Target> {
  const port = await freePort();
  const root = process.getuid?.() === 0 ? ['-u', 'root'] : [];
  const proc = spawn(stockMemcachedBin, ['-U', '0', '-l', '127.0.0.1', '-p', String(port), ...root, ...args], { stdio: 'ignore' });
  stockProcesses.add(proc);
  await waitListening(port, proc);
  return {
    port,
    label: `stock memcached (pid ${proc.pid})`,
    async restart() { /* stock memcached would come back empty: the read-back checks the running server */ },
    async stop() { await killAndWait(proc, 'SIGTERM'); },
  };
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const probe = createServer();
    probe.once('error', rej);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? res(address.port) : rej(new Error('no port'))));
    });
  });
}

async function waitListening(port: number, proc: ChildProcess): Promise<void> {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`${stockMemcachedBin} exited (${proc.exitCode}) before listening`);
    if (await canConnect(port)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`${stockMemcachedBin} not listening on ${port} after 5 s`);
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = connect({ host: '127.0.0.1', port }, () => { s.destroy(); res(true); });
    s.once('error', () => res(false));
  });
}

async function killAndWait(proc: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (proc.exitCode === null && proc.signalCode === null) {
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill(signal);
    await exited;
  }
  stockProcesses.delete(proc);
}
