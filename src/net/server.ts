// The TCP server: accepts connections up to -c, hands each to a Connection,
// and releases held replies whenever the WAL acknowledges more.
//
// Over the limit, a new connection gets memcached's
// "ERROR Too many open connections" and is closed.

import { createServer, type Server, type Socket } from 'node:net';
import type { Backend, ServerSettings } from './backend.js';
import { Connection, type ConnectionContext } from './connection.js';
import { adoptWithSharedReadBuffer } from './fast-read.js';
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
  const ctx: ConnectionContext = { backend, settings, counters, startedAtMs: backend.now(), waiting, log };
  const connections = new Set<Connection>();
  const sockets = new Set<Socket>();

  backend.onAck(() => {
    if (waiting.size === 0) return;
    for (const conn of [...waiting]) conn.release();
  });

  // allowHalfOpen: a client's FIN must not close our side before its replies leave (Connection.endOfInput).
  const server: Server = createServer({ noDelay: true, pauseOnConnect: true, allowHalfOpen: true }, (accepted) => {
    if (counters.currConnections >= settings.connectionLimit) {
      counters.rejectedConnections++;
      accepted.on('error', () => {});
      accepted.resume(); // read the client's FIN so the socket closes
      accepted.end('ERROR Too many open connections\r\n');
      return;
    }
    counters.currConnections++;
    counters.totalConnections++;
    const conn = new Connection(ctx);
    let socket = adoptWithSharedReadBuffer(accepted, (chunk) => conn.receive(chunk));
    if (socket) {
      socket.setNoDelay(true);
    } else {
      socket = accepted;
      socket.on('data', (chunk: Buffer) => conn.receive(chunk));
      socket.resume();
    }
    conn.attach(socket);
    sockets.add(socket);
    connections.add(conn);
    socket.on('end', () => conn.endOfInput());
    socket.on('error', (err) => log(2, `connection error: ${err.message}`));
    socket.on('close', () => {
      counters.currConnections--;
      sockets.delete(socket!);
      connections.delete(conn);
      waiting.delete(conn);
    });
  });

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
