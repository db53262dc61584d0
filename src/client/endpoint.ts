// One server as the client sees it: a pool of connections ("slots") opened
// on demand, and reconnection with exponential backoff.
//
// Invariants:
// - Requests are sent in the order they were submitted to a slot: while the
//   slot connects they wait in its queue, which is flushed in order, at once,
//   when the connection is ready.
// - A connection that drops rejects the requests in flight on it (the
//   connection's ConnectionError); the next request reconnects at once.
//   Consecutive failed attempts space the next attempt out: initialDelayMs,
//   doubling up to maxDelayMs; a success resets the delay. Requests that
//   arrive meanwhile wait for that attempt (within their own timeout) and
//   reject with its error if it fails.
// - Attempts are made only when requests need a connection: an idle client
//   with a dead server keeps no timers and no sockets.
// - After close() every request rejects at once and nothing reconnects;
//   quit() refuses new requests but lets the ones already submitted finish.

import { Call, Connection, type ConnectOptions } from './connection.js';
import { ConnectionError } from './errors.js';
import type { Request } from './protocol.js';

export interface Backoff { initialDelayMs: number; maxDelayMs: number }

export interface EndpointOptions extends ConnectOptions {
  poolSize: number;
  backoff: Backoff;
}

type Waiting = (conn: Connection | null, err: Error | null) => void;

interface Slot {
  conn: Connection | null;
  opening: boolean;
  retryTimer: NodeJS.Timeout | null;
  waiting: Waiting[];
}

export class Endpoint {
  /** host:port */
  readonly address: string;
  private readonly slots: Slot[];
  private failures = 0;
  private retryAtMs = 0;
  private next = 0;
  private closedError: Error | null = null;
  /** Set by quit(): new requests are refused while those submitted before still go out. */
  private refusing: Error | null = null;

  constructor(private readonly opts: EndpointOptions) {
    this.address = `${opts.host}:${opts.port}`;
    this.slots = Array.from({ length: opts.poolSize }, () => ({ conn: null, opening: false, retryTimer: null, waiting: [] }));
  }

  get poolSize(): number { return this.slots.length; }

  /** The slot for a hash of the key (same key, same connection, so its requests stay in order), or the next one round-robin. */
  slotFor(keyHash: number | null): number {
    if (this.slots.length === 1) return 0;
    if (keyHash !== null) return keyHash % this.slots.length;
    this.next = (this.next + 1) % this.slots.length;
    return this.next;
  }

  submit<T>(request: Request<T>, slot: number, timeoutMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const call = new Call(request, this.address, timeoutMs, resolve as (v: unknown) => void, reject);
      this.withConnection(slot, (conn, err) => {
        if (call.done) return;
        if (!conn) { call.reject(err!); return; }
        call.connection = conn;
        conn.send(call);
      });
    });
  }

  /** Resolves once slot `slot` has a ready connection (connecting if needed). */
  connect(slot = 0): Promise<void> {
    return new Promise((resolve, reject) => this.withConnection(slot, (conn, err) => (conn ? resolve() : reject(err))));
  }

  /** Rejects everything waiting or in flight with a ConnectionError saying `reason`; nothing reconnects afterwards. */
  close(reason = 'the client is closed'): void {
    if (this.closedError) return;
    const err = new ConnectionError(this.address, reason);
    this.closedError = err;
    for (const s of this.slots) {
      if (s.retryTimer) clearTimeout(s.retryTimer);
      s.retryTimer = null;
      this.flush(s, null, err);
      s.conn?.destroy(err);
      s.conn = null;
    }
  }

  /**
   * Refuses new requests, lets those already submitted go out (waiting for a
   * connection being opened), sends quit after them, and resolves once the
   * server has closed every connection; then like close().
   */
  async quit(): Promise<void> {
    this.refusing ??= new ConnectionError(this.address, 'the client has quit');
    const conns = await Promise.all(this.slots.map((s) => (s.opening
      ? new Promise<Connection | null>((resolve) => s.waiting.push((conn) => resolve(conn)))
      : s.conn)));
    await Promise.all(conns.map((conn) => conn?.quit()));
    this.close('the client has quit');
  }

  private withConnection(index: number, then: Waiting): void {
    const refused = this.closedError ?? this.refusing;
    if (refused) { then(null, refused); return; }
    const slot = this.slots[index]!;
    if (slot.conn) { then(slot.conn, null); return; }
    slot.waiting.push(then);
    if (!slot.opening) this.open(slot);
  }

  private open(slot: Slot): void {
    slot.opening = true;
    const delay = this.retryAtMs - Date.now();
    if (delay > 0) {
      slot.retryTimer = setTimeout(() => { slot.retryTimer = null; this.attempt(slot); }, delay);
    } else {
      this.attempt(slot);
    }
  }

  private attempt(slot: Slot): void {
    Connection.open(this.opts).then((conn) => {
      slot.opening = false;
      this.failures = 0;
      this.retryAtMs = 0;
      if (this.closedError) { conn.destroy(this.closedError); return; }
      conn.onClose = () => { if (slot.conn === conn) slot.conn = null; };
      slot.conn = conn.closed ? null : conn;
      this.flush(slot, conn, null);
    }, (err: Error) => {
      slot.opening = false;
      this.failures++;
      this.retryAtMs = Date.now() + backoffDelay(this.opts.backoff, this.failures);
      this.flush(slot, null, err);
    });
  }

  private flush(slot: Slot, conn: Connection | null, err: Error | null): void {
    const waiting = slot.waiting;
    slot.waiting = [];
    for (const then of waiting) then(conn, err);
  }
}

/** The wait before attempt n+1 after n consecutive failures. */
export function backoffDelay(b: Backoff, failures: number): number {
  return Math.min(b.maxDelayMs, b.initialDelayMs * 2 ** Math.max(0, failures - 1));
}
