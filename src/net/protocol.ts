// The seam between a connection and the protocol it speaks.
//
// A Connection owns the transport: reading, backpressure, WAL admission and
// the visibility contract (replies leave in request order, each only once the
// WAL position it reflects is acknowledged). A Protocol owns the bytes: it
// parses requests and runs each one, writing its reply into the sink and
// ending it with commit(seq). The protocol is chosen per connection from its
// first byte, as memcached's `-B auto` does (0x80 starts a binary request).

import type { Backend, ServerSettings } from './backend.js';
import type { Chunks } from './output.js';
import type { ConnectionCounters, ConnectionView } from './stats.js';

export interface ServerContext {
  readonly backend: Backend;
  readonly settings: ServerSettings;
  readonly counters: ConnectionCounters;
  readonly startedAtMs: number;
  log(level: number, message: string): void;
  /** Listeners and open connections, for `stats conns` (absent: none to show). */
  connections?(): ConnectionView[];
}

/** Where a protocol writes replies. */
export interface ReplySink {
  /** The reply under construction. */
  readonly reply: Chunks;
  /**
   * Ends the current reply. It leaves once WAL position `seq` is acknowledged
   * and every earlier reply has left; with closeAfter the connection then ends.
   */
  commit(seq: number, closeAfter?: boolean): void;
}

export interface Protocol<R = unknown> {
  /** Adds socket bytes; the chunk is only valid until detachInput(). */
  push(chunk: Buffer): void;
  /** Copies whatever of the last chunk is still unparsed. */
  detachInput(): void;
  /** The next complete request, or null when more bytes are needed. */
  next(): R | null;
  /** Whether running `request` writes to the WAL (and so needs admission). */
  isMutation(request: R): boolean;
  /** Runs the request and answers it through `out` (exactly one commit). */
  execute(request: R, out: ReplySink): void;
  /** Answers a mutation refused, unapplied, because the disk is full. */
  refuseDiskFull(request: R, out: ReplySink): void;
  /** memcached's state name while a request's data is still arriving (`stats conns`; such a connection is not idle). */
  dataState?(): 'conn_nread' | 'conn_swallow' | null;
}
