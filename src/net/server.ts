// The listener: accepts connections up to -c, hands each to a Connection,
// and releases held replies whenever the WAL acknowledges more.
//
// - Plain TCP, or TLS (node:tls) when ServerSettings.tls is set; with
//   verifyClient a client must present a certificate signed by the given CA,
//   or the handshake fails and the connection never reaches a Connection.
//   Plain TCP sockets read into one shared buffer (fast-read.ts); TLS sockets
//   use ordinary 'data' events.
// - Over the limit, a new connection gets memcached's
//   "ERROR Too many open connections" and is closed.
// - With an idle timeout, a connection that has read no request for that
//   long while waiting for one (not for the WAL to acknowledge its replies,
//   nor for the client to read them) is closed, as memcached's idle_timeout.
// - Each connection is numbered (memcached shows file descriptors) and its
//   addresses kept for `stats conns`.
// - Half-close: both listeners allow half-open sockets, so a client's FIN
//   does not close our side before its replies leave (Connection.endOfInput).

import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Backend, ServerSettings, TlsSettings } from './backend.js';
import { Connection, type ConnectionContext } from './connection.js';
import { adoptWithSharedReadBuffer } from './fast-read.js';
import type { ConnectionCounters, ConnectionView } from './stats.js';

/** How often idle connections are looked for (memcached's idle check is about as coarse). */
const idle_check_interval_ms = 1000;

export interface MemcachedServer {
  readonly address: { host: string; port: number };
  /** Stops accepting connections and reading requests; replies already owed still go out. */
  stopAccepting(): void;
  /** Ends every connection (after its queued replies) and resolves when the listener is closed. */
  closeConnections(): Promise<void>;
  readonly counters: ConnectionCounters;
}

type Log = (level: number, message: string) => void;

interface Peer { id: number; addr: string; listenAddr: string; socket: Socket }

export async function startServer(settings: ServerSettings, backend: Backend, log: Log): Promise<MemcachedServer> {
  const counters: ConnectionCounters = { currConnections: 0, totalConnections: 0, rejectedConnections: 0, bytesRead: 0, bytesWritten: 0, idleKicks: 0 };
  const waiting = new Set<Connection>();
  /** Every accepted connection (not the ones refused over -c) until its socket closes. */
  const peers = new Map<Connection, Peer>();
  const startedAtMs = backend.now();
  let listenAddr = '';
  let lastId = 0;
  const ctx: ConnectionContext = {
    backend, settings, counters, startedAtMs, waiting, log,
    connections: () => describeConnections(),
  };

  backend.onAck(() => {
    if (waiting.size === 0) return;
    for (const conn of [...waiting]) conn.release();
  });

  const accept = (accepted: Socket, fastRead: boolean): void => {
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
    const addr = addressText(accepted.remoteFamily, accepted.remoteAddress, accepted.remotePort);
    const socket = attachSocket(accepted, conn, fastRead);
    peers.set(conn, { id: ++lastId, addr, listenAddr, socket });
    socket.on('end', () => conn.endOfInput());
    socket.on('error', (err) => log(2, `connection error: ${err.message}`));
    socket.on('close', () => {
      counters.currConnections--;
      peers.delete(conn);
      waiting.delete(conn);
    });
  };

  const server: Server = settings.tls
    ? await createTlsListener(settings.tls, settings.idleTimeoutS ?? 0, (socket) => accept(socket, false), log)
    : createServer({ noDelay: true, pauseOnConnect: true, allowHalfOpen: true }, (socket) => accept(socket, true));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: settings.host, port: settings.port, backlog: 1024 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo; // a TCP listener's: never a pipe name or null
  listenAddr = addressText(bound.family, bound.address, bound.port);

  const idleTimeoutMs = (settings.idleTimeoutS ?? 0) * 1000;
  const idleTimer = idleTimeoutMs > 0 ? setInterval(() => closeIdle(backend.now() - idleTimeoutMs), idle_check_interval_ms).unref() : null;

  function closeIdle(cutoff: number): void {
    for (const [conn, peer] of peers) {
      if (!conn.isIdleSince(cutoff)) continue;
      log(1, `closing idle connection ${peer.addr}`);
      counters.idleKicks++;
      conn.destroy();
    }
  }

  function describeConnections(): ConnectionView[] {
    const now = backend.now();
    const secs = (sinceMs: number) => Math.max(0, Math.floor((now - sinceMs) / 1000));
    const views: ConnectionView[] = [];
    if (server.listening) views.push({ id: 0, addr: listenAddr, listenAddr: null, state: 'conn_listening', secsSinceLastCmd: secs(startedAtMs) });
    for (const [conn, peer] of peers) {
      views.push({ id: peer.id, addr: peer.addr, listenAddr: peer.listenAddr, state: conn.state, secsSinceLastCmd: secs(conn.lastCmdMs) });
    }
    return views;
  }

  return {
    address: { host: settings.host, port: bound.port },
    counters,
    stopAccepting() {
      if (server.listening) server.close();
      for (const conn of peers.keys()) conn.stopReading();
    },
    async closeConnections() {
      if (idleTimer) clearInterval(idleTimer);
      for (const conn of peers.keys()) conn.release();
      // Reading resumes (requests are no longer parsed) so that the client's FIN is seen and the socket closes.
      for (const { socket } of peers.values()) socket.end().resume();
      // Sockets that do not close promptly are cut.
      const timer = setTimeout(() => { for (const { socket } of peers.values()) socket.destroy(); }, 2000);
      while (peers.size) await new Promise((r) => setTimeout(r, 10));
      clearTimeout(timer);
    },
  };
}

/** Binds an accepted socket's bytes to the connection; returns the socket to use from now on. */
function attachSocket(accepted: Socket, conn: Connection, fastRead: boolean): Socket {
  let socket = fastRead ? adoptWithSharedReadBuffer(accepted, (chunk) => conn.receive(chunk)) : null;
  if (!socket) {
    socket = accepted;
    socket.on('data', (chunk: Buffer) => conn.receive(chunk));
    socket.resume();
  }
  socket.setNoDelay(true);
  conn.attach(socket);
  return socket;
}

/**
 * A TLS listener; a failed handshake (no or bad client certificate, not TLS
 * at all) is logged and the socket dropped. A handshake gets no longer than
 * the idle timeout (when set) to finish: it is not yet a connection the idle
 * check sees.
 */
async function createTlsListener(tls: TlsSettings, idleTimeoutS: number, onSecure: (socket: TLSSocket) => void, log: Log): Promise<Server> {
  const { createServer: createTlsServer } = await import('node:tls'); // loaded only when TLS is on
  const server = createTlsServer({
    cert: tls.cert, key: tls.key, ca: tls.ca,
    requestCert: tls.verifyClient, rejectUnauthorized: tls.verifyClient,
    minVersion: 'TLSv1.2',
    allowHalfOpen: true,
    ...(idleTimeoutS > 0 ? { handshakeTimeout: idleTimeoutS * 1000 } : {}),
  }, onSecure);
  server.on('tlsClientError', (err, socket) => {
    log(1, `TLS handshake failed: ${err.message}`);
    socket.destroy(); // node:tls leaves a timed-out handshake's socket open
  });
  return server;
}

/** memcached's address text: `tcp:1.2.3.4:11211` or `tcp6:[::1]:11211`. */
function addressText(family: string | undefined, address: string | undefined, port: number | undefined): string {
  return family === 'IPv6' ? `tcp6:[${address}]:${port}` : `tcp:${address}:${port}`;
}
