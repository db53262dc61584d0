// One connection to one memcached server: writes requests, reads replies and
// hands each to the request it answers.
//
// Invariants:
// - Pipelining: any number of requests may be in flight; memcached answers
//   in request order, so replies are matched to a FIFO of waiters. A request
//   sent with noreply takes no waiter (it resolves once its bytes are
//   written to the socket).
// - Quiet meta requests (see meta.ts): consecutive quiet requests form a run
//   that the connection ends with an mn (when a request that is not quiet
//   follows, or at the end of the current tick). While the oldest waiters
//   are such a run, a reply line is matched by its opaque token; waiters
//   before the match, or all of them when MN arrives, had their reply
//   suppressed. An error line carries no opaque: it is charged to the oldest
//   request of the run. A token already in the open run ends the run first,
//   so tokens are unique within a run.
// - Any failure ends the connection for good: every waiter rejects with the
//   same ConnectionError (the server closed it, a reply could not be read,
//   or a request timed out, which leaves the reply stream out of step).
//   Reconnecting is the endpoint's job.
// - Authentication (memcached's ASCII auth, `-Y`): the `set` carrying
//   "user password" is the first thing sent, alone (memcached drops replies
//   pipelined behind it), and the connection is handed out only after STORED.
// - Writes made in one tick go out in one syscall (cork until nextTick).

import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions as TlsOptions } from 'node:tls';
import { AuthError, ConnectionError, isErrorLine, MemcachedError, ProtocolError, TimeoutError } from './errors.js';
import { replyOpaque } from './meta.js';
import { oneLine, UnexpectedReply, type Reader, type Request, type Want } from './protocol.js';

export interface ConnectOptions {
  host: string;
  port: number;
  /** node:tls options (ca, cert, key, servername, rejectUnauthorized, ...); undefined for plain TCP. */
  tls?: TlsOptions | undefined;
  /** Bounds connect + TLS handshake + login. */
  connectTimeoutMs: number;
  username?: string | undefined;
  password?: string | undefined;
}

/** What the connection needs of a request in flight. */
export interface Pending {
  readonly request: Request;
  resolve(value: unknown): void;
  reject(err: Error): void;
}

/** A request from submission to outcome, with its timeout: on expiry it rejects and closes the connection it was sent on. */
export class Call implements Pending {
  connection: Connection | null = null;
  private settled = false;
  private readonly timer: NodeJS.Timeout;

  constructor(readonly request: Request, private readonly server: string, timeoutMs: number,
    private readonly onResolve: (value: unknown) => void, private readonly onReject: (err: Error) => void) {
    this.timer = setTimeout(() => this.timeOut(timeoutMs), timeoutMs);
  }

  get done(): boolean { return this.settled; }

  resolve(value: unknown): void {
    if (this.settle()) this.onResolve(value);
  }

  reject(err: Error): void {
    if (this.settle()) this.onReject(err);
  }

  private settle(): boolean {
    if (this.settled) return false;
    this.settled = true;
    clearTimeout(this.timer);
    return true;
  }

  private timeOut(ms: number): void {
    this.reject(new TimeoutError(this.server, `no reply within ${ms} ms`));
    this.connection?.destroy(new ConnectionError(this.server, 'connection closed: a request on it timed out'));
  }
}

interface Waiter { pending: Pending; reader: Reader<unknown> }

const line_length_max = 64 * 1024;
const noop_bytes = Buffer.from('mn\r\n');
const ignore = (): void => {};
const noopPending = (): Pending => ({ request: { bytes: noop_bytes, reader: oneLine(ignore), noop: true }, resolve: ignore, reject: ignore });

export class Connection {
  /** Called once, when the connection ends for any reason. */
  onClose: ((err: Error) => void) | null = null;
  private readonly waiters = new Fifo<Waiter>();
  private buf = Buffer.alloc(0);
  private parts: Buffer[] = [];
  private partsBytes = 0;
  /** 'line', or the size of the data block being read. */
  private want: 'line' | number = 'line';
  /** The waiter whose reply has started (more lines or a data block to come). */
  private current: Waiter | null = null;
  /** Opaque tokens of the quiet requests in the run not yet ended by an mn. */
  private run: Set<string> | null = null;
  private corked = false;
  private error: Error | null = null;

  private constructor(private readonly socket: Socket, readonly server: string) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.destroy(new ConnectionError(server, `connection lost: ${err.message}`, { cause: err })));
    socket.on('close', () => this.destroy(new ConnectionError(server, 'connection closed before the reply came')));
  }

  /** Connects (TLS if asked), logs in if asked; rejects with ConnectionError or AuthError. */
  static open(opts: ConnectOptions): Promise<Connection> {
    const server = `${opts.host}:${opts.port}`;
    return new Promise((resolve, reject) => {
      const socket = opts.tls ? tlsConnect({ ...opts.tls, host: opts.host, port: opts.port }) : netConnect({ host: opts.host, port: opts.port });
      let conn: Connection | null = null;
      const fail = (err: Error): void => {
        clearTimeout(timer);
        socket.destroy();
        conn?.destroy(err);
        reject(err);
      };
      const timer = setTimeout(() => fail(new ConnectionError(server, `cannot connect: no answer within ${opts.connectTimeoutMs} ms`)), opts.connectTimeoutMs);
      const onError = (err: Error): void => fail(new ConnectionError(server, `cannot connect: ${err.message}`, { cause: err }));
      socket.once('error', onError);
      socket.once(opts.tls ? 'secureConnect' : 'connect', () => {
        socket.off('error', onError);
        socket.setNoDelay(true);
        const c = new Connection(socket, server);
        conn = c;
        const ready = (): void => { clearTimeout(timer); resolve(c); };
        if (opts.username === undefined) ready();
        else c.login(opts.username, opts.password ?? '').then(ready, fail);
      });
    });
  }

  get closed(): boolean { return this.error !== null; }

  send(p: Pending): void {
    if (this.error) { p.reject(this.error); return; }
    const req = p.request;
    if (req.quiet) this.joinRun(req.quiet.token);
    else if (this.run) {
      if (req.noop) this.run = null;
      else this.endRun();
    }
    if (req.reader) {
      this.waiters.push({ pending: p, reader: req.reader() });
      this.write(req.bytes);
    } else {
      // noreply: done once the bytes are handed to the kernel (a close() right after loses nothing).
      this.write(req.bytes, (err) => (err ? p.reject(new ConnectionError(this.server, `write failed: ${err.message}`, { cause: err })) : p.resolve(undefined)));
    }
  }

  /** Ends the connection: every request in flight rejects with `err`. Idempotent: the first error stays. */
  destroy(err: Error): void {
    if (this.error) return;
    this.error = err;
    this.socket.destroy();
    this.current = null;
    for (const w of this.waiters.drain()) w.pending.reject(err);
    this.onClose?.(err);
  }

  /** Sends quit (after whatever is in flight) and resolves once the server has closed the connection. */
  quit(): Promise<void> {
    if (this.error) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      this.write(Buffer.from('quit\r\n'));
    });
  }

  // ---- writing ---------------------------------------------------------------

  private login(user: string, password: string): Promise<void> {
    const payload = Buffer.from(`${user} ${password}`, 'utf8');
    const request: Request<string> = {
      bytes: Buffer.concat([Buffer.from(`set auth 0 0 ${payload.length}\r\n`), payload, Buffer.from('\r\n')]),
      reader: oneLine((line) => line),
    };
    const refused = (line: string): AuthError => new AuthError(this.server, `authentication refused: ${line}`);
    return new Promise((resolve, reject) => this.send({
      request,
      resolve: (line) => (line === 'STORED' ? resolve() : reject(refused(String(line)))),
      reject: (err) => reject(err instanceof MemcachedError ? refused(err.line) : err),
    }));
  }

  private joinRun(token: string): void {
    if (this.run?.has(token)) this.endRun();
    if (!this.run) {
      const run = new Set<string>();
      this.run = run;
      queueMicrotask(() => { if (this.run === run && !this.error) this.endRun(); });
    }
    this.run.add(token);
  }

  private endRun(): void {
    this.run = null;
    const p = noopPending();
    this.waiters.push({ pending: p, reader: p.request.reader!() });
    this.write(noop_bytes);
  }

  private write(bytes: Buffer, written?: (err: Error | null | undefined) => void): void {
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => { this.corked = false; this.socket.uncork(); });
    }
    this.socket.write(bytes, written);
  }

  // ---- reading ---------------------------------------------------------------

  private onData(chunk: Buffer): void {
    this.parts.push(chunk);
    this.partsBytes += chunk.length;
    if (typeof this.want === 'number' && this.buf.length + this.partsBytes < this.want + 2) return;
    this.buf = Buffer.concat([this.buf, ...this.parts]);
    this.parts = [];
    this.partsBytes = 0;
    try {
      this.parse();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.destroy(err instanceof ConnectionError ? err : new ProtocolError(this.server, `unreadable reply: ${message}`));
    }
  }

  private parse(): void {
    while (!this.error) {
      if (typeof this.want === 'number') {
        const size = this.want;
        if (this.buf.length < size + 2) return;
        if (this.buf[size] !== 0x0d || this.buf[size + 1] !== 0x0a) throw new UnexpectedReply('a data block not followed by \\r\\n');
        const data = Buffer.from(this.buf.subarray(0, size));
        this.buf = this.buf.subarray(size + 2);
        this.want = 'line';
        this.advance(this.current!.reader.data(data));
        continue;
      }
      const nl = this.buf.indexOf('\r\n');
      if (nl < 0) {
        if (this.buf.length > line_length_max) throw new UnexpectedReply(`no end of line in ${this.buf.length} bytes`);
        return;
      }
      const line = this.buf.toString('utf8', 0, nl);
      this.buf = this.buf.subarray(nl + 2);
      this.onLine(line);
    }
  }

  private onLine(line: string): void {
    if (!this.current) this.settleSuppressed(line);
    const w = this.current ?? this.waiters.peek();
    if (!w) throw new UnexpectedReply(`a reply with no request waiting: ${JSON.stringify(line)}`);
    if (isErrorLine(line)) {
      this.finish();
      w.pending.reject(new MemcachedError(line));
      return;
    }
    this.current = w;
    this.advance(w.reader.line(line));
  }

  private advance(want: Want): void {
    if (want === 'done') {
      const w = this.finish();
      w.pending.resolve(w.reader.result);
    } else if (want !== 'line') {
      this.want = want;
    }
  }

  /** Removes the oldest waiter, whose reply is complete. */
  private finish(): Waiter {
    this.current = null;
    return this.waiters.shift()!;
  }

  /** If the oldest waiters are a quiet run, resolves those `line` shows were suppressed, leaving its owner at the head. */
  private settleSuppressed(line: string): void {
    if (!this.waiters.peek()?.pending.request.quiet || isErrorLine(line)) return;
    const n = line === 'MN' ? this.quietRunLength() : this.quietIndexOf(replyOpaque(line), line);
    for (let i = 0; i < n; i++) {
      const w = this.waiters.shift()!;
      w.pending.resolve(w.pending.request.quiet!.suppressed);
    }
  }

  private quietRunLength(): number {
    let n = 0;
    while (this.waiters.at(n)?.pending.request.quiet) n++;
    return n;
  }

  private quietIndexOf(token: string | null, line: string): number {
    for (let i = 0; ; i++) {
      const quiet = this.waiters.at(i)?.pending.request.quiet;
      if (!quiet) throw new UnexpectedReply(`reply ${JSON.stringify(line)} matches no quiet request in flight`);
      if (quiet.token === token) return i;
    }
  }
}

/** A queue with O(1) shift (Array.shift is O(n) on long pipelines). */
class Fifo<T> {
  private items: Array<T | undefined> = [];
  private head = 0;

  push(item: T): void { this.items.push(item); }
  peek(): T | undefined { return this.items[this.head]; }
  at(i: number): T | undefined { return this.items[this.head + i]; }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head === this.items.length) { this.items = []; this.head = 0; }
    else if (this.head > 1024 && this.head * 2 > this.items.length) { this.items = this.items.slice(this.head); this.head = 0; }
    return item;
  }

  drain(): T[] {
    const all = this.items.slice(this.head) as T[];
    this.items = [];
    this.head = 0;
    return all;
  }
}
