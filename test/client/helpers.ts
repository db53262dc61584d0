// Sockets in the middle, for client tests: a TCP proxy that records what the
// client wrote (to count requests and mn's on the wire), and a scripted fake
// server (to stall, drop or answer garbage on cue).

import { connect, createServer, type Server, type Socket } from 'node:net';

export interface Listening { port: number; close(): Promise<void> }

function listen(server: Server, sockets: Set<Socket>): Promise<Listening> {
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    port: (server.address() as { port: number }).port,
    close: () => new Promise<void>((res) => {
      for (const s of sockets) s.destroy();
      server.close(() => res());
    }),
  })));
}

export interface Recorder extends Listening {
  /** Bytes the clients sent, all connections in order of arrival. */
  sent(): string;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Drops every open connection (both sides), as a server crash would. */
  dropAll(): void;
}

/** A TCP proxy to 127.0.0.1:targetPort that records the client's bytes. */
export async function recordingProxy(targetPort: number): Promise<Recorder> {
  let sent = '';
  let connections = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    connections++;
    const upstream = connect({ host: '127.0.0.1', port: targetPort });
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    client.on('data', (d: Buffer) => { sent += d.toString('latin1'); upstream.write(d); });
    upstream.on('data', (d: Buffer) => client.write(d));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('error', () => {});
    upstream.on('error', () => {});
  });
  const l = await listen(server, sockets);
  return {
    ...l,
    sent: () => sent,
    get connections() { return connections; },
    dropAll: () => { for (const s of sockets) s.destroy(); },
  };
}

/** A fake server: `onLine` gets each request line a client sends and the socket to answer on. */
export async function scriptedServer(onLine: (line: string, socket: Socket) => void): Promise<Listening & { readonly connections: number }> {
  let connections = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    connections++;
    let buf = '';
    socket.on('error', () => {});
    socket.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (let nl = buf.indexOf('\r\n'); nl >= 0; nl = buf.indexOf('\r\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 2);
        onLine(line, socket);
      }
    });
  });
  const l = await listen(server, sockets);
  return { ...l, get connections() { return connections; } };
}

/** Occurrences of a request line starting with `prefix` in recorded bytes. */
export function countLines(sent: string, prefix: string): number {
  return sent.split('\r\n').filter((l) => l === prefix || l.startsWith(`${prefix} `)).length;
}
