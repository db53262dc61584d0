// The server an interop test talks to. By default it is our own
// bin/memcached-lite (test/e2e/harness.ts: built dist/, temp data dir). With
// INTEROP_SERVER=memcached it is a stock /usr/bin/memcached on a free loopback
// port instead (test/e2e/daemons.ts), which proves the tests themselves
// right: every step runs the same except restart(), which does nothing there
// (stock memcached keeps nothing across a restart, so the read-back then
// checks the running server).
//
// Invariants: restart() brings our server back on the same port and data dir,
// so a client built before it reconnects as a user's would; stop() is safe to
// call twice; cleanupTargets() (afterAll) kills whatever is still running.

import { startMemcached, stopDaemons } from '../e2e/daemons.js';
import { cleanup, startServer, type ServerProcess } from '../e2e/harness.js';

export const againstStock = process.env['INTEROP_SERVER'] === 'memcached';

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

export async function startTarget(args: string[] = itemSizeArgs): Promise<Target> {
  return againstStock ? startStock(args) : startOurs(args);
}

/** Call from afterAll: stops every server an interop test started. */
export async function cleanupTargets(): Promise<void> {
  await stopDaemons();
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
  const daemon = await startMemcached(args);
  return {
    port: daemon.port,
    label: `stock memcached (pid ${daemon.pid})`,
    async restart() { /* stock memcached would come back empty: the read-back checks the running server */ },
    async stop() { await daemon.stop(); },
  };
}
