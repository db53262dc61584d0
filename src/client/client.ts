// A promise-based memcached client: every classic text command and every
// meta command, pipelining, a connection pool per server, per-request
// timeouts, reconnection with backoff, TLS, ASCII authentication, and
// several servers by ketama consistent hashing (twemproxy-compatible).
//
//   const c = new Client({ servers: ['10.0.0.1:11211', '10.0.0.2:11211'] });
//   await c.set('k', 'v', { exptime: 60 });
//   (await c.get('k'))?.value.toString();   // 'v'
//   await c.close();
//
// Invariants:
// - A key's requests go to one server (ketama over the key's bytes) and, in
//   a pool, to one connection (FNV-1a of the key), so requests on the same
//   key are answered in the order they were made even when not awaited.
//   Multi-key gets are split by server and connection; requests with no key
//   (stats, version, ...) go to one server (the first, or opts.server),
//   round-robin over its connections; flush_all and verbosity go to all.
// - Every request settles: with its reply, a MemcachedError (the server's
//   error line), a ConnectionError (no reply: unreachable, dropped, closed),
//   a TimeoutError (no reply in time; its connection is closed), or a
//   ArgumentError (a TypeError) for invalid arguments (nothing was sent).
// - noreply requests resolve undefined once written; the server's silence
//   means nothing can be reported back.

import type { ConnectionOptions as TlsOptions } from 'node:tls';
import { Endpoint, type Backoff } from './endpoint.js';
import { ArgumentError } from './errors.js';
import { deleteRequest, isPrintable, toBuffer, deltaRequest, flushAllRequest, keyBytes, rawLineRequest, retrieveRequest, statsRequest, storeRequest, touchRequest, verbosityRequest, versionRequest, type Request, type RetrieveCommand, type StoreCommand, type StoreReply, type Value } from './protocol.js';
import { Continuum, fnv1a32, hash_names, hashKey, ketamaName, type HashName } from './ketama.js';
import {
  debugFields, metaArithmeticFlags, metaDeleteFlags, metaGetFlags, metaRequest, metaSetFlags,
  type MetaArithmeticOptions, type MetaCommand, type MetaDeleteOptions, type MetaGetOptions, type MetaReply, type MetaSetOptions,
} from './meta.js';

export interface ServerAddress {
  host: string;
  port: number;
  /** ketama weight (default 1), as in twemproxy's "host:port:weight". */
  weight?: number;
  /** ketama name (default "host:port", or "host" for port 11211), as in twemproxy's "host:port:weight name". */
  name?: string;
}

export interface ClientOptions {
  /** One server (default 127.0.0.1:11211); ignored when `servers` is given. */
  host?: string;
  port?: number;
  /** Several servers, keys spread by ketama: "host:port", "host:port:weight", "host:port:weight name", "[::1]:port", or objects. */
  servers?: ReadonlyArray<string | ServerAddress>;
  /** Key hash for ketama (twemproxy's `hash:`), default md5. */
  hash?: HashName;
  /** Connections per server (default 1). */
  poolSize?: number;
  /** Default per-request timeout (default 10 s). */
  timeoutMs?: number;
  /** Connect + TLS handshake + login (default: timeoutMs). */
  connectTimeoutMs?: number;
  /** Wait between failed connection attempts: initialDelayMs (default 100), doubling up to maxDelayMs (default 5000). */
  reconnect?: Partial<Backoff>;
  /** TLS: true, or node:tls options (ca, cert, key, servername, rejectUnauthorized, ...). */
  tls?: boolean | TlsOptions;
  /** memcached ASCII authentication (-Y): sent on each new connection before anything else. */
  username?: string;
  password?: string;
}

export interface RequestOptions { timeoutMs?: number }
export interface NoreplyOptions extends RequestOptions { noreply?: boolean }
export interface StoreOptions extends NoreplyOptions { flags?: number; exptime?: number }
/** For requests with no key: which server ("host:port"); default the first. */
export interface ServerOptions extends RequestOptions { server?: string }

// Existing importers take these from here (the package entry is index.ts).
export { ArgumentError, AuthError, ConnectionError, MemcachedError, ProtocolError, TimeoutError } from './errors.js';
export type { StoreReply, Value } from './protocol.js';

type Route = { endpoint: Endpoint; slot: number };

export class Client {
  private readonly endpoints: Endpoint[];
  private readonly ring: Continuum | null;
  private readonly hash: HashName;
  private readonly timeoutMs: number;

  constructor(options: ClientOptions = {}) {
    const servers = serverList(options);
    this.hash = options.hash ?? 'md5';
    if (!hash_names.includes(this.hash)) throw new ArgumentError(`hash must be one of ${hash_names.join(', ')}`);
    this.timeoutMs = positive('timeoutMs', options.timeoutMs ?? 10_000);
    const poolSize = positive('poolSize', options.poolSize ?? 1);
    const backoff: Backoff = {
      initialDelayMs: positive('reconnect.initialDelayMs', options.reconnect?.initialDelayMs ?? 100),
      maxDelayMs: positive('reconnect.maxDelayMs', options.reconnect?.maxDelayMs ?? 5000),
    };
    const auth = credentials(options);
    const tls = options.tls === true ? {} : options.tls || undefined;
    const connectTimeoutMs = positive('connectTimeoutMs', options.connectTimeoutMs ?? this.timeoutMs);
    this.endpoints = servers.map((s) => new Endpoint({ host: s.host, port: s.port, tls, connectTimeoutMs, ...auth, poolSize, backoff }));
    this.ring = servers.length > 1
      ? new Continuum(servers.map((s) => ({ name: ketamaName(s.host, s.port, s.name), weight: s.weight ?? 1 })))
      : null;
  }

  /** A client whose first connection to every server is up (and logged in): rejects if one cannot be made. */
  static async connect(options: ClientOptions = {}): Promise<Client> {
    const client = new Client(options);
    try {
      await Promise.all(client.endpoints.map((e) => e.connect()));
    } catch (err) {
      client.close();
      throw err;
    }
    return client;
  }

  /** The servers, "host:port", in configuration order. */
  get servers(): string[] { return this.endpoints.map((e) => e.address); }

  /** The server ("host:port") a key is stored on. */
  serverFor(key: string | Buffer): string {
    return this.endpointFor(typeof key === 'string' ? keyBytes(key) : key).address;
  }

  // ---- retrieval -----------------------------------------------------------

  async get(key: string, opts?: RequestOptions): Promise<Value | undefined> { return (await this.retrieve('get', [key], opts)).get(key); }
  async gets(key: string, opts?: RequestOptions): Promise<Value | undefined> { return (await this.retrieve('gets', [key], opts)).get(key); }
  async gat(exptime: number, key: string, opts?: RequestOptions): Promise<Value | undefined> { return (await this.retrieve('gat', [key], opts, exptime)).get(key); }
  async gats(exptime: number, key: string, opts?: RequestOptions): Promise<Value | undefined> { return (await this.retrieve('gats', [key], opts, exptime)).get(key); }

  /** Hits only: a missing key is absent from the map. */
  getMulti(keys: readonly string[], opts?: RequestOptions): Promise<Map<string, Value>> { return this.retrieve('get', keys, opts); }
  getsMulti(keys: readonly string[], opts?: RequestOptions): Promise<Map<string, Value>> { return this.retrieve('gets', keys, opts); }
  gatMulti(exptime: number, keys: readonly string[], opts?: RequestOptions): Promise<Map<string, Value>> { return this.retrieve('gat', keys, opts, exptime); }
  gatsMulti(exptime: number, keys: readonly string[], opts?: RequestOptions): Promise<Map<string, Value>> { return this.retrieve('gats', keys, opts, exptime); }

  // ---- storage and the rest of the classic commands --------------------------

  async set(key: string, value: Buffer | string, opts: StoreOptions = {}): Promise<StoreReply | undefined> { return this.store('set', key, value, opts); }
  async add(key: string, value: Buffer | string, opts: StoreOptions = {}): Promise<StoreReply | undefined> { return this.store('add', key, value, opts); }
  async replace(key: string, value: Buffer | string, opts: StoreOptions = {}): Promise<StoreReply | undefined> { return this.store('replace', key, value, opts); }
  async append(key: string, value: Buffer | string, opts: StoreOptions = {}): Promise<StoreReply | undefined> { return this.store('append', key, value, opts); }
  async prepend(key: string, value: Buffer | string, opts: StoreOptions = {}): Promise<StoreReply | undefined> { return this.store('prepend', key, value, opts); }
  async cas(key: string, value: Buffer | string, cas: bigint, opts: StoreOptions = {}): Promise<StoreReply | undefined> { return this.store('cas', key, value, opts, cas); }

  async delete(key: string, opts: NoreplyOptions = {}): Promise<'DELETED' | 'NOT_FOUND' | undefined> {
    return this.keyed(key, deleteRequest(key, opts.noreply), opts);
  }

  /** The new value (incr wraps at 2^64, decr stops at 0), NOT_FOUND, or undefined with noreply. */
  async incr(key: string, delta: bigint | number, opts: NoreplyOptions = {}): Promise<bigint | 'NOT_FOUND' | undefined> {
    return this.keyed(key, deltaRequest('incr', key, delta, opts.noreply), opts);
  }

  async decr(key: string, delta: bigint | number, opts: NoreplyOptions = {}): Promise<bigint | 'NOT_FOUND' | undefined> {
    return this.keyed(key, deltaRequest('decr', key, delta, opts.noreply), opts);
  }

  async touch(key: string, exptime: number, opts: NoreplyOptions = {}): Promise<'TOUCHED' | 'NOT_FOUND' | undefined> {
    return this.keyed(key, touchRequest(key, exptime, opts.noreply), opts);
  }

  /** flush_all [delay] on every server. */
  async flushAll(delaySeconds?: number, opts: NoreplyOptions = {}): Promise<void> {
    await this.everyServer(() => flushAllRequest(delaySeconds, opts.noreply), opts);
  }

  /** verbosity on every server. */
  async verbosity(level: number, opts: NoreplyOptions = {}): Promise<void> {
    await this.everyServer(() => verbosityRequest(level, opts.noreply), opts);
  }

  /** The version of one server ("1.6.18"). */
  async version(opts: ServerOptions = {}): Promise<string> { return this.unkeyed(versionRequest(), opts); }

  /** stats [args] of one server: name -> value. */
  async stats(args = '', opts: ServerOptions = {}): Promise<Map<string, string>> { return this.unkeyed(statsRequest(args), opts); }

  /** version of every server, by "host:port". */
  versions(opts: RequestOptions = {}): Promise<Map<string, string>> { return this.everyServer(versionRequest, opts); }

  /** stats [args] of every server, by "host:port". */
  statsAll(args = '', opts: RequestOptions = {}): Promise<Map<string, Map<string, string>>> {
    return this.everyServer(() => statsRequest(args), opts);
  }

  /** Sends raw bytes to one server and resolves with the next reply line (for protocol tests and admin commands). */
  async rawLine(bytes: Buffer | string, opts: ServerOptions = {}): Promise<string> { return this.unkeyed(rawLineRequest(bytes), opts); }

  // ---- meta commands -----------------------------------------------------------

  /**
   * A meta command with protocol flags as written ("v", "T30", "Oabc"); `data`
   * is the value of ms. A Buffer key is binary (sent base64 with b).
   */
  async meta(cmd: MetaCommand, key: string | Buffer | undefined, flags: readonly string[] = [], data?: Buffer | string, opts: ServerOptions = {}): Promise<MetaReply> {
    const { request, routingKey } = metaRequest(cmd, key, flags, data === undefined ? undefined : toBuffer(data));
    return routingKey ? this.routed(routingKey, request, opts) : this.unkeyed(request, opts);
  }

  /** mg. code: VA (value asked) or HD on a hit, EN on a miss. */
  async metaGet(key: string | Buffer, opts: MetaGetOptions & RequestOptions = {}): Promise<MetaReply> {
    return this.meta('mg', key, metaGetFlags(opts), undefined, opts);
  }

  /** ms. code: HD stored, NS not stored, EX cas mismatch, NF not found (cas). */
  async metaSet(key: string | Buffer, value: Buffer | string, opts: MetaSetOptions & RequestOptions = {}): Promise<MetaReply> {
    return this.meta('ms', key, metaSetFlags(opts), value, opts);
  }

  /** md. code: HD deleted (or marked stale), NF, EX. */
  async metaDelete(key: string | Buffer, opts: MetaDeleteOptions & RequestOptions = {}): Promise<MetaReply> {
    return this.meta('md', key, metaDeleteFlags(opts), undefined, opts);
  }

  /** ma. code: HD (VA with returnValue: the new number in value), NF, NS, EX. */
  async metaArithmetic(key: string | Buffer, opts: MetaArithmeticOptions & RequestOptions = {}): Promise<MetaReply> {
    return this.meta('ma', key, metaArithmeticFlags(opts), undefined, opts);
  }

  /** mn: MN. */
  async metaNoop(opts: ServerOptions = {}): Promise<MetaReply> { return this.meta('mn', undefined, [], undefined, opts); }

  /** me: the item's internal fields (exp, la, cas, fetch, cls, size), or undefined on a miss. */
  async metaDebug(key: string | Buffer, opts: RequestOptions = {}): Promise<Map<string, string> | undefined> {
    return debugFields(await this.meta('me', key, Buffer.isBuffer(key) ? ['b'] : [], undefined, opts));
  }

  // ---- lifetime --------------------------------------------------------------

  /** Sends quit on every open connection and waits until the servers close them; the client is then closed. */
  async quit(): Promise<void> {
    await Promise.all(this.endpoints.map((e) => e.quit()));
  }

  /** Closes every connection now: requests in flight reject with ConnectionError, and so does every later request. */
  close(): void {
    for (const e of this.endpoints) e.close();
  }

  // ---- routing -----------------------------------------------------------------

  private endpointFor(key: Buffer): Endpoint {
    return this.ring ? this.endpoints[this.ring.pick(hashKey(this.hash, key))]! : this.endpoints[0]!;
  }

  private route(key: Buffer): Route {
    const endpoint = this.endpointFor(key);
    return { endpoint, slot: endpoint.slotFor(endpoint.poolSize > 1 ? fnv1a32(key) : null) };
  }

  private timeout(opts: RequestOptions | undefined): number {
    return opts?.timeoutMs === undefined ? this.timeoutMs : positive('timeoutMs', opts.timeoutMs);
  }

  private routed<T>(key: Buffer, request: Request<T>, opts: RequestOptions | undefined): Promise<T> {
    const { endpoint, slot } = this.route(key);
    return endpoint.submit(request, slot, this.timeout(opts));
  }

  private keyed<T>(key: string, request: Request<T>, opts: RequestOptions | undefined): Promise<T> {
    return this.routed(keyBytes(key), request, opts);
  }

  private unkeyed<T>(request: Request<T>, opts: ServerOptions): Promise<T> {
    const endpoint = this.serverNamed(opts.server);
    return endpoint.submit(request, endpoint.slotFor(null), this.timeout(opts));
  }

  private async everyServer<T>(make: () => Request<T>, opts: RequestOptions): Promise<Map<string, T>> {
    const timeoutMs = this.timeout(opts);
    const replies = await Promise.all(this.endpoints.map((e) => e.submit(make(), e.slotFor(null), timeoutMs)));
    return new Map(this.endpoints.map((e, i) => [e.address, replies[i]!]));
  }

  private serverNamed(server: string | undefined): Endpoint {
    if (server === undefined) return this.endpoints[0]!;
    const endpoint = this.endpoints.find((e) => e.address === server);
    if (!endpoint) throw new ArgumentError(`unknown server ${server} (servers: ${this.servers.join(', ')})`);
    return endpoint;
  }

  private store(cmd: StoreCommand, key: string, value: Buffer | string, opts: StoreOptions, cas?: bigint): Promise<StoreReply | undefined> {
    return this.keyed(key, storeRequest(cmd, key, value, opts, cas), opts);
  }

  /** One request per (server, connection) holding some of the keys; the replies merged. */
  private async retrieve(cmd: RetrieveCommand, keys: readonly string[], opts: RequestOptions | undefined, exptime?: number): Promise<Map<string, Value>> {
    if (keys.length === 0) throw new ArgumentError(`${cmd} needs at least one key`);
    const groups = new Map<Endpoint, Map<number, string[]>>();
    for (const key of keys) {
      const { endpoint, slot } = this.route(keyBytes(key));
      const bySlot = groups.get(endpoint) ?? new Map<number, string[]>();
      groups.set(endpoint, bySlot);
      bySlot.set(slot, [...(bySlot.get(slot) ?? []), key]);
    }
    const timeoutMs = this.timeout(opts);
    const pending: Array<Promise<Map<string, Value>>> = [];
    for (const [endpoint, bySlot] of groups) {
      for (const [slot, ks] of bySlot) pending.push(endpoint.submit(retrieveRequest(cmd, ks, exptime), slot, timeoutMs));
    }
    const maps = await Promise.all(pending);
    return maps.length === 1 ? maps[0]! : new Map(maps.flatMap((m) => [...m]));
  }
}

// ---- options -------------------------------------------------------------------

function positive(name: string, n: number): number {
  if (!Number.isSafeInteger(n) || n < 1) throw new ArgumentError(`${name} must be a positive integer, got ${n}`);
  return n;
}

function serverList(options: ClientOptions): ServerAddress[] {
  if (options.servers !== undefined) {
    if (options.servers.length === 0) throw new ArgumentError('servers must name at least one server');
    const list = options.servers.map((s) => checkServer(typeof s === 'string' ? parseServer(s) : s));
    const seen = new Set<string>();
    for (const s of list) {
      const address = `${s.host}:${s.port}`;
      if (seen.has(address)) throw new ArgumentError(`server ${address} is listed twice`);
      seen.add(address);
    }
    return list;
  }
  return [checkServer({ host: options.host ?? '127.0.0.1', port: options.port ?? 11211 })];
}

/** "host:port[:weight][ name]" (twemproxy's servers: syntax), IPv6 hosts in brackets. */
export function parseServer(spec: string): ServerAddress {
  const m = /^(\[[^\]]+\]|[^:\s]+):(\d+)(?::(\d+))?(?: (\S+))?$/.exec(spec.trim());
  if (!m) throw new ArgumentError(`server must be host:port[:weight][ name], got ${JSON.stringify(spec)}`);
  const host = m[1]!.startsWith('[') ? m[1]!.slice(1, -1) : m[1]!;
  return { host, port: Number(m[2]), ...(m[3] === undefined ? {} : { weight: Number(m[3]) }), ...(m[4] === undefined ? {} : { name: m[4] }) };
}

function checkServer(s: ServerAddress): ServerAddress {
  if (!s.host) throw new ArgumentError('server host must not be empty');
  if (!Number.isInteger(s.port) || s.port < 1 || s.port > 65535) throw new ArgumentError(`server ${s.host}: port must be 1..65535, got ${s.port}`);
  if (s.weight !== undefined && (!Number.isInteger(s.weight) || s.weight < 1)) throw new ArgumentError(`server ${s.host}:${s.port}: weight must be a positive integer`);
  return s;
}

function credentials(options: ClientOptions): { username?: string; password?: string } {
  const { username, password } = options;
  if (username === undefined && password === undefined) return {};
  if (username === undefined || password === undefined) throw new ArgumentError('username and password go together');
  for (const [name, v] of [['username', username], ['password', password]] as const) {
    if (!v || !isPrintable(Buffer.from(v, 'utf8'))) throw new ArgumentError(`${name} must be non-empty, without spaces or control characters`);
  }
  return { username, password };
}

