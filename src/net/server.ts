// The TCP server: accepts connections up to -c, hands each to a Connection,
// and releases held replies whenever the WAL acknowledges more.
//
// Over the limit, a new connection gets memcached's
// "ERROR Too many open connections" and is closed.

import { createServer, type Server, type Socket } from 'node:net';
import type { Backend, ServerSettings } from './backend.js';
import { Connection, type ServerContext } from './connection.js';
import type { ConnectionCounters } from './stats.js';

export interface MemcachedServer {
  readonly address: { host: string; port: number };
  /** Stops accepting connections and reading requests; replies already owed still go out. */
  stopAccepting(): void;
  /** Ends every connection (after its queued replies) and resolves when the listener is closed. */
  closeConnections(): Promise<void>;
  readonly counters: ConnectionCounters;
}

export async function startServer(settings: ServerSettings, backend: Backend, log: (level: number, message: string) => void): Promise<MemcachedServer> {
  const counters: ConnectionCounters = { currConnections: 0, totalConnections: 0, rejectedConnections: 0, bytesRead: 0, bytesWritten: 0 };
  const waiting = new Set<Connection>();
  const ctx: ServerContext = { backend, settings, counters, startedAtMs: backend.now(), waiting, log };
  const connections = new Set<Connection>();
  const sockets = new Set<Socket>();

  backend.onAck(() => {
    if (waiting.size === 0) return;
    for (const conn of [...waiting]) conn.release();
  });

  const server: Server = createServer({ noDelay: true }, (socket) => {
    if (counters.currConnections >= settings.connectionLimit) {
      counters.rejectedConnections++;
      socket.on('error', () => {});
      socket.end('ERROR Too many open connections\r\n');
      return;
    }
    counters.currConnections++;
    counters.totalConnections++;
    sockets.add(socket);
    const conn = new Connection(socket, ctx);
    connections.add(conn);
    socket.on('error', (err) => log(2, `connection error: ${err.message}`));
    socket.on('close', () => {
      counters.currConnections--;
      sockets.delete(socket);
      connections.delete(conn);
      waiting.delete(conn);
    });
  });
  server.maxConnections = settings.connectionLimit + 64; // room to send the refusal line

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: settings.host, port: settings.port, backlog: 1024 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address();
  const port = typeof bound === 'object' && bound ? bound.port : settings.port;

  return {
    address: { host: settings.host, port },
    counters,
    stopAccepting() {
      if (server.listening) server.close();
      for (const conn of connections) conn.stopReading();
    },
    async closeConnections() {
      for (const conn of connections) conn.release();
      for (const socket of sockets) socket.end();
      // Sockets that do not close promptly are cut.
      const timer = setTimeout(() => { for (const socket of sockets) socket.destroy(); }, 2000);
      while (sockets.size) await new Promise((r) => setTimeout(r, 10));
      clearTimeout(timer);
    },
  };
}
