// memcached's binary protocol: runs the requests binary-parser.ts frames on
// the engine and answers with the packets memcached 1.6.18 sends
// (proto_bin.c): same statuses, error texts, opcode and opaque echoed, CAS
// of the item the reply shows (0 where memcached sends 0).
//
// Quiet opcodes (getq, setq, ...) answer nothing on success or on a get miss,
// but do answer errors. Replies leave in request order; memcached batches
// them until a noop or a non-quiet reply, which gives the same bytes.
//
// Invariant (visibility): every request ends in exactly one commit carrying
// the highest WAL sequence its reply reflects, also a quiet request that
// answers nothing, so no reply (nor a later noop) leaves before the writes it
// shows are durable.

import type { Engine } from '../engine/engine.js';
import type { ItemView, StoreMode, StoreResult } from '../engine/types.js';
import {
  Op, Status, delta_no_create, isQuiet, responseHead, status_text, type RequestId,
} from './binary-format.js';
import { BinaryParser, type BinaryCommand, type BinaryRequest } from './binary-parser.js';
import type { Protocol, ReplySink, ServerContext } from './protocol.js';
import { resetStats, server_version, statGroup, type StatLines } from './stats.js';

/**
 * A mutation refused because the disk is full. memcached has no such case;
 * its binary answer to a server-side store failure is 0x82 with the text of
 * the ASCII SERVER_ERROR minus that prefix (out_of_memory()), so the text
 * protocol's "SERVER_ERROR out of disk space" becomes 0x82 "out of disk
 * space": clients treat 0x82 as a transient server error, where NOT_STORED
 * or EEXISTS would read as an answer about the key.
 */
const disk_full_text = 'out of disk space';

/** memcached's texts for an allocation failure (out_of_memory() callers in proto_bin.c). */
const no_memory_store_text = 'Out of memory allocating item';
const no_memory_delta_text = 'Out of memory incrementing value';
const no_memory_create_text = 'Out of memory allocating new item';

const mutating = new Set<number>([
  Op.Set, Op.Add, Op.Replace, Op.Append, Op.Prepend, Op.Delete, Op.Increment, Op.Decrement,
  Op.Flush, Op.Touch, Op.Gat, Op.GatK,
]);

const empty = Buffer.alloc(0);

export class BinaryProtocol implements Protocol<BinaryRequest> {
  private readonly parser: BinaryParser;

  constructor(private readonly ctx: ServerContext) {
    this.parser = new BinaryParser(ctx.settings.itemSizeMaxBytes);
  }

  push(chunk: Buffer): void { this.parser.push(chunk); }
  detachInput(): void { this.parser.detachInput(); }
  next(): BinaryRequest | null { return this.parser.next(); }
  dataState(): 'conn_nread' | 'conn_swallow' | null { return this.parser.dataState; }

  isMutation(request: BinaryRequest): boolean {
    // A too-large set unlinks the old item (memcached: no stale value survives).
    return request.kind === 'too_large' || (request.kind === 'command' && mutating.has(request.base));
  }

  refuseDiskFull(request: BinaryRequest, out: ReplySink): void {
    if (request.kind !== 'close') error(out, request, Status.OutOfMemory, disk_full_text);
    out.commit(0);
  }

  execute(request: BinaryRequest, out: ReplySink): void {
    switch (request.kind) {
      case 'close':
        this.ctx.log(2, `closing connection: ${request.reason}`);
        return out.commit(0, true);
      case 'refuse':
        error(out, request, request.status);
        return out.commit(0, request.closeAfter);
      case 'too_large': {
        const engine = this.ctx.backend.engine;
        const r = engine.rejectTooLarge(storeMode(request.base, 0n), request.key, this.ctx.backend.now());
        error(out, request, Status.TooLarge);
        return out.commit(r.seq);
      }
      case 'command':
        return this.run(request, out);
    }
  }

  private run(c: BinaryCommand, out: ReplySink): void {
    const engine = this.ctx.backend.engine;
    const now = this.ctx.backend.now();
    switch (c.base) {
      case Op.Get: case Op.GetK: case Op.Touch: case Op.Gat: case Op.GatK:
        return this.getOrTouch(c, engine, now, out);
      case Op.Set: case Op.Add: case Op.Replace: case Op.Append: case Op.Prepend:
        return this.store(c, engine, now, out);
      case Op.Delete: {
        const r = engine.delete(c.key, now, c.cas);
        if (r.status === 'DELETED') succeed(out, c);
        else error(out, c, r.status === 'EXISTS' ? Status.KeyExists : Status.KeyNotFound);
        return out.commit(r.seq);
      }
      case Op.Increment: case Op.Decrement:
        return this.delta(c, engine, now, out);
      case Op.Flush: {
        const r = engine.flushAll(c.extras.length === 4 ? c.extras.readUInt32BE(0) : 0, now);
        succeed(out, c);
        return out.commit(r.seq);
      }
      case Op.Noop:
        succeed(out, c);
        return out.commit(0);
      case Op.Version:
        succeed(out, c, 0, server_version);
        return out.commit(0);
      case Op.Stat:
        return this.stat(c, out);
      case Op.Quit:
        succeed(out, c);
        return out.commit(0, true);
    }
  }

  /** get/getk/touch/gat/gatk and their quiet forms (memcached's process_bin_get_or_touch). */
  private getOrTouch(c: BinaryCommand, engine: Engine, now: number, out: ReplySink): void {
    const touching = c.base === Op.Touch || c.base === Op.Gat || c.base === Op.GatK;
    const item: ItemView | undefined = engine.get(c.key, now, touching ? c.extras.readUInt32BE(0) : undefined);
    const withKey = c.base === Op.GetK || c.base === Op.GatK;
    if (item) {
      const value = c.base === Op.Touch ? empty : item.value;
      out.reply.addValue(responseHead(c, Status.Success, item.cas, item.flags, withKey ? c.key : '', value.length));
      if (value.length) out.reply.addValue(value);
      return out.commit(item.seq);
    }
    if (!isQuiet(c.opcode)) {
      // getk/gatk answer a miss with the key and no text.
      if (withKey) out.reply.addValue(responseHead(c, Status.KeyNotFound, 0, undefined, c.key, 0));
      else error(out, c, Status.KeyNotFound);
    }
    out.commit(engine.removalSeq);
  }

  /** set/add/replace (a CAS unique makes them a cas, as in memcached) and append/prepend. */
  private store(c: BinaryCommand, engine: Engine, now: number, out: ReplySink): void {
    const mode = storeMode(c.base, c.cas);
    // append/prepend have no extras: the item keeps its flags and expiry.
    const flags = c.extras.length === 8 ? c.extras.readUInt32BE(0) : 0;
    const exptime = c.extras.length === 8 ? c.extras.readUInt32BE(4) : 0;
    const r = engine.store(mode, c.key, flags, exptime, c.value, c.cas, now);
    if (r.status === 'STORED') succeed(out, c, r.cas);
    else error(out, c, ...storeFailure(mode, r));
    out.commit(r.seq);
  }

  /**
   * incr/decr (memcached's complete_incr_bin): the new value as 8 bytes; a
   * miss creates the item with the initial value unless the expiration is
   * 0xffffffff.
   */
  private delta(c: BinaryCommand, engine: Engine, now: number, out: ReplySink): void {
    const amount = c.extras.readBigUInt64BE(0);
    const initial = c.extras.readBigUInt64BE(8);
    const exptime = c.extras.readUInt32BE(16);
    const r = engine.delta(c.key, c.base === Op.Increment, amount, now, c.cas);
    switch (r.status) {
      case 'VALUE':
        succeed(out, c, r.cas, u64(r.value));
        return out.commit(r.seq);
      case 'NON_NUMERIC': error(out, c, Status.DeltaBadValue); return out.commit(r.seq);
      case 'EXISTS': error(out, c, Status.KeyExists); return out.commit(r.seq);
      case 'NO_MEMORY': error(out, c, Status.OutOfMemory, no_memory_delta_text); return out.commit(r.seq);
      case 'NOT_FOUND':
        if (exptime === delta_no_create) {
          error(out, c, Status.KeyNotFound);
          return out.commit(r.seq);
        }
        return this.createCounter(c, engine, initial, exptime, now, out);
    }
  }

  private createCounter(c: BinaryCommand, engine: Engine, initial: bigint, exptime: number, now: number, out: ReplySink): void {
    const r = engine.store('add', c.key, 0, exptime, Buffer.from(initial.toString(), 'latin1'), 0n, now);
    if (r.status === 'STORED') succeed(out, c, r.cas, u64(initial));
    else if (r.status === 'NO_MEMORY') error(out, c, Status.OutOfMemory, no_memory_create_text);
    else error(out, c, Status.NotStored);
    out.commit(r.seq);
  }

  /**
   * stat: one packet per stat (key = name, value = its text), then one with
   * neither. As memcached, "reset", "settings" and "detail" match as prefixes,
   * the other groups exactly; an unknown group (or "detail", which we do not
   * keep) is "Not found".
   */
  private stat(c: BinaryCommand, out: ReplySink): void {
    let lines: StatLines | undefined;
    if (c.key.startsWith('reset')) {
      resetStats(this.ctx);
      lines = [];
    } else {
      lines = statGroup(this.ctx, c.key === '' ? null : c.key.startsWith('settings') ? 'settings' : c.key);
    }
    if (!lines) {
      error(out, c, Status.KeyNotFound);
      return out.commit(0);
    }
    const stat: RequestId = { opcode: Op.Stat, opaque: c.opaque };
    for (const [name, value] of lines) {
      const text = String(value);
      out.reply.addValue(responseHead(stat, Status.Success, 0, undefined, name, text.length));
      out.reply.addText(text);
    }
    out.reply.addValue(responseHead(stat, Status.Success, 0, undefined, '', 0));
    out.commit(0);
  }
}

/** The engine's store mode: memcached turns a set/add/replace with a CAS unique into a cas. */
function storeMode(base: number, cas: bigint): StoreMode {
  if (cas !== 0n && (base === Op.Set || base === Op.Add || base === Op.Replace)) return 'cas';
  switch (base) {
    case Op.Add: return 'add';
    case Op.Replace: return 'replace';
    case Op.Append: return 'append';
    case Op.Prepend: return 'prepend';
    default: return 'set';
  }
}

/** Status and text of a store that did not store (memcached's complete_update_bin and process_bin_update). */
function storeFailure(mode: StoreMode, r: Exclude<StoreResult, { status: 'STORED' }>): [number, string?] {
  switch (r.status) {
    case 'EXISTS': return [Status.KeyExists];
    case 'NOT_FOUND': return [Status.KeyNotFound];
    case 'TOO_LARGE': return [Status.TooLarge];
    case 'NO_MEMORY':
      // memcached fails the allocation of a set/add/replace up front; an append's merged item fails as NOT_STORED.
      return mode === 'append' || mode === 'prepend' ? [Status.NotStored] : [Status.OutOfMemory, no_memory_store_text];
    case 'NOT_STORED':
      return mode === 'add' ? [Status.KeyExists] : mode === 'replace' ? [Status.KeyNotFound] : [Status.NotStored];
  }
}

/** A success reply, unless the opcode is quiet. */
function succeed(out: ReplySink, id: RequestId, cas = 0, body: string | Buffer = empty): void {
  if (isQuiet(id.opcode)) return;
  out.reply.addValue(responseHead(id, Status.Success, cas, undefined, '', body.length));
  if (typeof body === 'string') out.reply.addText(body);
  else if (body.length) out.reply.addValue(body);
}

/** An error reply (sent for quiet opcodes too): the status and its text, CAS 0 (memcached's write_bin_error). */
function error(out: ReplySink, id: RequestId, status: number, text = status_text[status]!): void {
  out.reply.addValue(responseHead(id, status, 0, undefined, '', text.length));
  out.reply.addText(text);
}

function u64(value: bigint): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeBigUInt64BE(value);
  return b;
}
