// A raw socket for protocol-level end-to-end checks: send bytes, read lines.
// converse() plays the same requests against two servers (ours and a stock
// memcached from daemons.ts) to compare what each request got back.

import { connect, type Socket } from 'node:net';
import { connect as connectTls, type ConnectionOptions } from 'node:tls';

export class RawConnection {
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  closed = false;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (d: Buffer) => { this.buf = Buffer.concat([this.buf, d]); this.wake(); });
    socket.on('close', () => { this.closed = true; this.wake(); });
    socket.on('error', () => {});
  }

  static open(port: number): Promise<RawConnection> {
    return new Promise((res, rej) => {
      const s = connect({ host: '127.0.0.1', port }, () => res(new RawConnection(s)));
      s.once('error', rej);
    });
  }

  /** Over TLS: resolves once the handshake is done (a refused client certificate may only show later, as a close). */
  static openTls(port: number, options: ConnectionOptions): Promise<RawConnection> {
    return new Promise((res, rej) => {
      const s = connectTls({ host: '127.0.0.1', port, ...options }, () => res(new RawConnection(s)));
      s.once('error', rej);
    });
  }

  send(data: string | Buffer): void { this.socket.write(data); }

  /** Next line without its "\r\n"; rejects on timeout or close. */
  async line(timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const nl = this.buf.indexOf('\r\n');
      if (nl >= 0) {
        const line = this.buf.toString('latin1', 0, nl);
        this.buf = this.buf.subarray(nl + 2);
        return line;
      }
      if (this.closed) throw new Error(`connection closed; unread: ${JSON.stringify(this.buf.toString('latin1'))}`);
      await this.wait(deadline);
    }
  }

  /** Resolves true once the server closed the connection (false on timeout). */
  async waitClosed(timeoutMs = 5000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      try { await this.wait(deadline); } catch { return false; }
    }
    return true;
  }

  /** Bytes received but not yet read. */
  get unread(): string { return this.buf.toString('latin1'); }

  close(): void { this.socket.destroy(); }

  private wait(deadline: number): Promise<void> {
    return new Promise((res, rej) => {
      const left = deadline - Date.now();
      if (left <= 0) { rej(new Error(`timeout; unread: ${JSON.stringify(this.buf.toString('latin1'))}`)); return; }
      const timer = setTimeout(() => { this.waiters = this.waiters.filter((w) => w !== done); rej(new Error(`timeout; unread: ${JSON.stringify(this.buf.toString('latin1'))}`)); }, left);
      const done = () => { clearTimeout(timer); res(); };
      this.waiters.push(done);
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

/**
 * Sends each part in turn on one connection and collects what each got back
 * (latin1), once the connection has been quiet for quietMs: the same list
 * sent to two servers must give the same replies.
 */
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
