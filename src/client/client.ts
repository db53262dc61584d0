// A small promise-based memcached text-protocol client with pipelining: many
// requests may be in flight on one connection; replies come back in request
// order and are matched to a FIFO of waiters. noreply requests take no waiter.
//
// Server errors (ERROR, CLIENT_ERROR ..., SERVER_ERROR ...) reject with
// MemcachedError carrying the line; a closed connection rejects every waiter.

import { connect, type Socket } from 'node:net';

export class MemcachedError extends Error {
  constructor(readonly line: string) { super(line); }
}

export interface Value { value: Buffer; flags: number; cas?: bigint }

export interface StoreOptions { flags?: number; exptime?: number; noreply?: boolean }

export type StoreReply = 'STORED' | 'NOT_STORED' | 'EXISTS' | 'NOT_FOUND';

export interface ClientOptions { host?: string; port?: number; timeoutMs?: number }

type Waiter = { reject: (e: Error) => void; timer?: NodeJS.Timeout } & (
  | { kind: 'line'; resolve: (line: string) => void }
  | { kind: 'values'; resolve: (values: Map<string, Value>) => void; values: Map<string, Value> }
  | { kind: 'stats'; resolve: (stats: Map<string, string>) => void; stats: Map<string, string> });

function isErrorLine(line: string): boolean {
  return line === 'ERROR' || line.startsWith('CLIENT_ERROR') || line.startsWith('SERVER_ERROR') || line.startsWith('ERROR ');
}

export class Client {
  private buf: Buffer = Buffer.alloc(0);
  private readonly waiters: Waiter[] = [];
  private pendingValue: { key: string; flags: number; bytes: number; cas?: bigint } | null = null;
  private closedError: Error | null = null;

  private constructor(private readonly socket: Socket, private readonly timeoutMs: number) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new Error('connection closed')));
  }

  static connect(options: ClientOptions = {}): Promise<Client> {
    const host = options.host ?? '127.0.0.1';
    const port = options.port ?? 11211;
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port, noDelay: true });
      const onError = (err: Error) => reject(err);
      socket.once('error', onError);
      socket.once('connect', () => {
        socket.off('error', onError);
        resolve(new Client(socket, options.timeoutMs ?? 10_000));
      });
    });
  }

  // ---- retrieval -----------------------------------------------------------

  async get(key: string): Promise<Value | undefined> {
    return (await this.retrieve('get', [key])).get(key);
  }

  async gets(key: string): Promise<Value | undefined> {
    return (await this.retrieve('gets', [key])).get(key);
  }

  getMulti(keys: string[]): Promise<Map<string, Value>> { return this.retrieve('get', keys); }
  getsMulti(keys: string[]): Promise<Map<string, Value>> { return this.retrieve('gets', keys); }

  async gat(exptime: number, key: string): Promise<Value | undefined> {
    return (await this.retrieve(`gat ${exptime}`, [key])).get(key);
  }

  async gats(exptime: number, key: string): Promise<Value | undefined> {
    return (await this.retrieve(`gats ${exptime}`, [key])).get(key);
  }

  // ---- storage -------------------------------------------------------------

  set(key: string, value: Buffer | string, opts: StoreOptions = {}): Promise<StoreReply | undefined> { return this.store('set', key, value, opts); }
  add(key: string, value: Buffer | string, opts: StoreOptions = {}): Promise<StoreReply | undefined> { return this.store('add', key, value, opts); }
  replace(key: string, value: Buffer | string, opts: StoreOptions = {}): Promise<StoreReply | undefined> { return this.store('replace', key, value, opts); }
  append(key: string, value: Buffer | string, opts: StoreOptions = {}): Promise<StoreReply | undefined> { return this.store('append', key, value, opts); }
  prepend(key: string, value: Buffer | string, opts: StoreOptions = {}): Promise<StoreReply | undefined> { return this.store('prepend', key, value, opts); }

  cas(key: string, value: Buffer | string, cas: bigint, opts: StoreOptions = {}): Promise<StoreReply | undefined> {
    return this.store('cas', key, value, opts, cas);
  }

  async delete(key: string, opts: { noreply?: boolean } = {}): Promise<'DELETED' | 'NOT_FOUND' | undefined> {
    return (await this.simple(`delete ${key}`, opts.noreply)) as 'DELETED' | 'NOT_FOUND' | undefined;
  }

  incr(key: string, delta: bigint | number, opts: { noreply?: boolean } = {}): Promise<bigint | 'NOT_FOUND' | undefined> {
    return this.delta('incr', key, delta, opts.noreply);
  }

  decr(key: string, delta: bigint | number, opts: { noreply?: boolean } = {}): Promise<bigint | 'NOT_FOUND' | undefined> {
    return this.delta('decr', key, delta, opts.noreply);
  }

  async touch(key: string, exptime: number, opts: { noreply?: boolean } = {}): Promise<'TOUCHED' | 'NOT_FOUND' | undefined> {
    return (await this.simple(`touch ${key} ${exptime}`, opts.noreply)) as 'TOUCHED' | 'NOT_FOUND' | undefined;
  }

  async flushAll(delaySeconds?: number, opts: { noreply?: boolean } = {}): Promise<void> {
    await this.simple(delaySeconds === undefined ? 'flush_all' : `flush_all ${delaySeconds}`, opts.noreply);
  }

  async version(): Promise<string> {
    const line = await this.simple('version');
    return line!.replace(/^VERSION /, '');
  }

  async verbosity(level: number): Promise<void> { await this.simple(`verbosity ${level}`); }

  stats(args = ''): Promise<Map<string, string>> {
    return new Promise((resolve, reject) => {
      this.send(`stats${args ? ` ${args}` : ''}\r\n`, { kind: 'stats', resolve, reject, stats: new Map() });
    });
  }

  /** Sends raw bytes and resolves with the next reply line (for protocol tests). */
  rawLine(bytes: Buffer | string): Promise<string> {
    return new Promise((resolve, reject) => this.send(bytes, { kind: 'line', resolve, reject }));
  }

  async quit(): Promise<void> {
    this.socket.write('quit\r\n');
    await new Promise<void>((resolve) => { if (this.socket.destroyed) resolve(); else this.socket.once('close', () => resolve()); });
  }

  close(): void {
    this.socket.destroy();
  }

  // ---- internals -----------------------------------------------------------

  private async store(cmd: string, key: string, value: Buffer | string, opts: StoreOptions, cas?: bigint): Promise<StoreReply | undefined> {
    const data = typeof value === 'string' ? Buffer.from(value) : value;
    const casPart = cas === undefined ? '' : ` ${cas}`;
    const header = `${cmd} ${key} ${opts.flags ?? 0} ${opts.exptime ?? 0} ${data.length}${casPart}${opts.noreply ? ' noreply' : ''}\r\n`;
    const bytes = Buffer.concat([Buffer.from(header), data, Buffer.from('\r\n')]);
    if (opts.noreply) {
      this.send(bytes, null);
      return undefined;
    }
    return (await new Promise<string>((resolve, reject) => this.send(bytes, { kind: 'line', resolve, reject }))) as StoreReply;
  }

  private async delta(cmd: string, key: string, delta: bigint | number, noreply?: boolean): Promise<bigint | 'NOT_FOUND' | undefined> {
    const line = await this.simple(`${cmd} ${key} ${delta}`, noreply);
    if (line === undefined) return undefined;
    return line === 'NOT_FOUND' ? 'NOT_FOUND' : BigInt(line);
  }

  private simple(command: string, noreply?: boolean): Promise<string | undefined> {
    if (noreply) {
      this.send(`${command} noreply\r\n`, null);
      return Promise.resolve(undefined);
    }
    return new Promise((resolve, reject) => this.send(`${command}\r\n`, { kind: 'line', resolve, reject }));
  }

  private retrieve(command: string, keys: string[]): Promise<Map<string, Value>> {
    return new Promise((resolve, reject) => {
      this.send(`${command} ${keys.join(' ')}\r\n`, { kind: 'values', resolve, reject, values: new Map() });
    });
  }

  private send(bytes: Buffer | string, waiter: Waiter | null): void {
    if (this.closedError) {
      waiter?.reject(this.closedError);
      return;
    }
    if (waiter) {
      waiter.timer = setTimeout(() => this.fail(new Error(`timeout after ${this.timeoutMs} ms`)), this.timeoutMs);
      this.waiters.push(waiter);
    }
    this.socket.write(bytes);
  }

  private fail(err: Error): void {
    if (!this.closedError) this.closedError = err;
    while (this.waiters.length) this.done().reject(err);
    this.socket.destroy();
  }

  /** Removes the oldest waiter, whose reply is complete. */
  private done(): Waiter {
    const waiter = this.waiters.shift()!;
    clearTimeout(waiter.timer);
    return waiter;
  }

  private onData(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    for (;;) {
      if (this.pendingValue) {
        const need = this.pendingValue.bytes + 2;
        if (this.buf.length < need) return;
        const waiter = this.waiters[0];
        const { key, flags, cas } = this.pendingValue;
        const value = Buffer.from(this.buf.subarray(0, this.pendingValue.bytes));
        this.buf = this.buf.subarray(need);
        this.pendingValue = null;
        if (waiter?.kind === 'values') waiter.values.set(key, cas === undefined ? { value, flags } : { value, flags, cas });
        continue;
      }
      const nl = this.buf.indexOf('\r\n');
      if (nl < 0) return;
      const line = this.buf.toString('utf8', 0, nl);
      this.buf = this.buf.subarray(nl + 2);
      this.onLine(line);
    }
  }

  private onLine(line: string): void {
    const waiter = this.waiters[0];
    if (!waiter) {
      this.fail(new Error(`unexpected reply line: ${line}`));
      return;
    }
    if (isErrorLine(line)) {
      this.done();
      waiter.reject(new MemcachedError(line));
      return;
    }
    switch (waiter.kind) {
      case 'line':
        this.done();
        waiter.resolve(line);
        return;
      case 'values': {
        if (line === 'END') { this.done(); waiter.resolve(waiter.values); return; }
        const m = /^VALUE (\S+) (\d+) (\d+)(?: (\d+))?$/.exec(line);
        if (!m) { this.fail(new Error(`bad VALUE line: ${line}`)); return; }
        this.pendingValue = { key: m[1]!, flags: Number(m[2]), bytes: Number(m[3]), ...(m[4] ? { cas: BigInt(m[4]) } : {}) };
        return;
      }
      case 'stats': {
        if (line === 'END' || line === 'RESET') { this.done(); waiter.resolve(waiter.stats); return; }
        const m = /^STAT (\S+) (.*)$/.exec(line);
        if (m) waiter.stats.set(m[1]!, m[2]!);
        return;
      }
    }
  }
}
