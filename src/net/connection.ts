// One client connection: parse requests, run them on the engine, and send the
// replies in request order, each only once the WAL position it reflects is
// acknowledged (the visibility contract: no reply shows a write that is not
// yet durable).
//
// Invariants:
// - replies leave in request order; a ready reply never overtakes a waiting one;
// - a mutation runs only when the WAL admits it: on 'wait' the connection
//   stops parsing until the backlog drains; on 'full' it is refused, unapplied;
// - reading pauses while unsent reply bytes exceed the high-water mark
//   (backpressure), and resumes when the socket drains or replies are released.

import type { Socket } from 'node:net';
import type { ItemView } from '../engine/types.js';
import type { Backend, ServerSettings } from './backend.js';
import { Chunks } from './output.js';
import { TextParser } from './parser.js';
import type { Request } from './requests.js';
import { formatStats, generalStats, itemStats, server_version, settingsStats, slabStats, type ConnectionCounters } from './stats.js';

/** Unsent reply bytes above which we stop reading from a connection. */
export const reply_backlog_high_bytes = 4 * 1024 * 1024;

export interface ServerContext {
  readonly backend: Backend;
  readonly settings: ServerSettings;
  readonly counters: ConnectionCounters;
  readonly startedAtMs: number;
  /** Connections holding replies until the WAL acknowledges them. */
  readonly waiting: Set<Connection>;
  log(level: number, message: string): void;
}

interface Held { chunks: Chunks; seq: number; closeAfter: boolean }

const disk_full_reply = 'SERVER_ERROR out of disk space\r\n';

export class Connection {
  private readonly parser: TextParser;
  private readonly ready = new Chunks();
  private readonly reply = new Chunks();
  private held: Held[] = [];
  private heldBytes = 0;
  private stalled: Request | null = null;
  private closeAfterWrite = false;
  private ended = false;
  private readPaused = false;
  private isWaiting = false;
  private isFirstChunk = true;

  private socket!: Socket;

  constructor(private readonly ctx: ServerContext) {
    this.parser = new TextParser(ctx.settings.itemSizeMaxBytes, ctx.settings.strictKeys);
  }

  /** Binds the socket; its bytes arrive through receive(). */
  attach(socket: Socket): void {
    this.socket = socket;
    socket.on('drain', () => this.maybeResume());
  }

  /** Called when the WAL acknowledged more: release what is now durable. */
  release(): void {
    this.flush();
    this.maybeResume();
  }

  /** Bytes from the socket. The chunk may be reused after this returns: nothing may keep a view of it. */
  receive(chunk: Buffer): void {
    if (this.ended) return;
    this.ctx.counters.bytesRead += chunk.length;
    if (this.isFirstChunk && chunk[0] === 0x80) {
      this.ctx.log(1, 'binary protocol is not supported yet: closing the connection');
      this.destroy();
      return;
    }
    this.isFirstChunk = false;
    this.parser.push(chunk);
    this.process();
    this.parser.detachInput();
  }

  private process(): void {
    while (!this.ended && !this.stalled && !this.closeAfterWrite) {
      if (this.backlogBytes() > reply_backlog_high_bytes) {
        this.pauseReading();
        break;
      }
      const request = this.parser.next();
      if (!request) break;
      if (isMutation(request)) {
        const admission = this.ctx.backend.writeAdmission();
        if (admission === 'wait') {
          this.stall(request);
          break;
        }
        if (admission === 'full') {
          this.refuseDiskFull(request);
          continue;
        }
      }
      this.handle(request);
    }
    this.flush();
  }

  /** A mutation the disk has no room for: not applied, answered SERVER_ERROR (unless noreply). */
  private refuseDiskFull(request: Request): void {
    if (!('noreply' in request && request.noreply)) this.reply.addText(disk_full_reply);
    this.commit(0);
  }

  private stall(request: Request): void {
    this.stalled = request;
    this.pauseReading();
    void this.ctx.backend.whenAdmissible().then(() => {
      const r = this.stalled;
      this.stalled = null;
      if (!r || this.ended) return;
      if (this.ctx.backend.writeAdmission() === 'full') {
        this.refuseDiskFull(r);
      } else {
        this.handle(r);
      }
      this.process();
      this.maybeResume();
    });
  }

  private handle(request: Request): void {
    const { backend } = this.ctx;
    const engine = backend.engine;
    const now = backend.now();
    switch (request.kind) {
      case 'get':
        return this.handleGet(request.keys, request.withCas, request.touchExptime, now);
      case 'store': {
        const r = engine.store(request.mode, request.key, request.flags, request.exptime, request.value, request.casUnique, now);
        return this.answer(request.noreply, storeReply[r.status], r.seq);
      }
      case 'too_large': {
        const r = engine.rejectTooLarge(request.mode, request.key, now);
        return this.answer(request.noreply, 'SERVER_ERROR object too large for cache\r\n', r.seq);
      }
      case 'delete': {
        const r = engine.delete(request.key, now);
        return this.answer(request.noreply, r.status === 'DELETED' ? fixed.DELETED : fixed.NOT_FOUND, r.seq);
      }
      case 'delta': {
        const r = engine.delta(request.key, request.incr, request.delta, now);
        const text = r.status === 'VALUE' ? `${r.value}\r\n` : deltaReply[r.status];
        return this.answer(request.noreply, text, r.seq);
      }
      case 'touch': {
        const r = engine.touch(request.key, request.exptime, now);
        return this.answer(request.noreply, r.status === 'TOUCHED' ? fixed.TOUCHED : fixed.NOT_FOUND, r.seq);
      }
      case 'flush_all': {
        const r = engine.flushAll(request.delaySeconds, now);
        return this.answer(request.noreply, fixed.OK, r.seq);
      }
      case 'version':
        return this.answer(false, `VERSION ${server_version}\r\n`, 0);
      case 'verbosity':
        this.ctx.settings.verbosity = Math.min(request.level, 2);
        return this.answer(request.noreply, 'OK\r\n', 0);
      case 'quit':
        this.commit(0, true);
        return;
      case 'stats':
        return this.answer(false, this.stats(request.args), 0);
      case 'cache_memlimit':
        return this.handleMemlimit(request.megabytes, request.noreply);
      case 'reply':
        return this.answer(request.noreply, `${request.line}\r\n`, 0);
      case 'close':
        this.ctx.log(2, `closing connection: ${request.reason}`);
        this.commit(0, true);
        return;
    }
  }

  private handleGet(keys: string[], withCas: boolean, touchExptime: number | undefined, now: number): void {
    const engine = this.ctx.backend.engine;
    let seq = 0;
    for (const key of keys) {
      const item: ItemView | undefined = engine.get(key, now, touchExptime);
      if (!item) {
        if (engine.removalSeq > seq) seq = engine.removalSeq;
        continue;
      }
      if (item.seq > seq) seq = item.seq;
      this.reply.addText(withCas
        ? `VALUE ${key} ${item.flags} ${item.value.length} ${item.cas}\r\n`
        : `VALUE ${key} ${item.flags} ${item.value.length}\r\n`);
      this.reply.addValue(item.value);
      this.reply.addText('\r\n');
    }
    this.reply.addText('END\r\n');
    this.commit(seq);
  }

  private handleMemlimit(megabytes: number | null, noreply: boolean): void {
    let text: string;
    if (megabytes === null) text = 'ERROR';
    else if (megabytes < 8) text = 'MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m';
    else if (megabytes > 1_000_000_000) text = 'MEMLIMIT_ADJUST_FAILED input value is megabytes not bytes';
    else {
      this.ctx.backend.engine.setMemoryLimit(megabytes * 1024 * 1024, this.ctx.backend.now());
      text = 'OK';
    }
    this.answer(noreply, `${text}\r\n`, this.ctx.backend.engine.lastSeq);
  }

  private stats(args: string[]): string {
    const { backend, settings, counters, startedAtMs } = this.ctx;
    const engine = backend.engine;
    if (args.length === 0) return formatStats(generalStats(backend, settings, counters, startedAtMs));
    switch (args[0]) {
      case 'reset':
        engine.resetCounters();
        counters.totalConnections = 0;
        counters.rejectedConnections = 0;
        counters.bytesRead = 0;
        counters.bytesWritten = 0;
        return 'RESET\r\n';
      case 'items': return formatStats(itemStats(engine, backend.now()));
      case 'slabs': return formatStats(slabStats(engine));
      case 'settings': return formatStats(settingsStats(settings, engine));
      default: return 'ERROR\r\n';
    }
  }

  private answer(noreply: boolean, text: string | Buffer, seq: number): void {
    if (noreply) {
      // nothing to send
    } else if (typeof text === 'string') {
      this.reply.addText(text);
    } else {
      this.reply.addValue(text);
    }
    this.commit(seq);
  }

  /** Ends the current reply: ready now if nothing waits before it and `seq` is acknowledged. */
  private commit(seq: number, closeAfter = false): void {
    if (!this.held.length && !closeAfter && seq <= this.ctx.backend.ackedSeq()) {
      this.reply.moveTo(this.ready);
      return;
    }
    const chunks = new Chunks();
    this.reply.moveTo(chunks);
    this.held.push({ chunks, seq, closeAfter });
    this.heldBytes += chunks.bytes;
    if (closeAfter) this.closeAfterWrite = true;
  }

  private flush(): void {
    const acked = this.ctx.backend.ackedSeq();
    let close = false;
    while (this.held.length && this.held[0]!.seq <= acked) {
      const h = this.held.shift()!;
      this.heldBytes -= h.chunks.bytes;
      h.chunks.moveTo(this.ready);
      if (h.closeAfter) { close = true; break; }
    }
    this.setWaiting(this.held.length > 0 && !close);
    if (!this.ready.isEmpty) this.write(this.ready.take());
    if (close) this.end();
  }

  private write(parts: Buffer[]): void {
    if (this.ended) return;
    const socket = this.socket;
    if (parts.length > 1) socket.cork();
    for (const p of parts) {
      this.ctx.counters.bytesWritten += p.length;
      socket.write(p);
    }
    if (parts.length > 1) socket.uncork();
  }

  private backlogBytes(): number {
    return this.socket.writableLength + this.heldBytes;
  }

  private pauseReading(): void {
    if (!this.readPaused) {
      this.readPaused = true;
      this.socket.pause();
    }
  }

  private maybeResume(): void {
    if (this.ended || this.stalled) return;
    if (this.readPaused && this.backlogBytes() <= reply_backlog_high_bytes / 2) {
      this.readPaused = false;
      this.socket.resume();
      this.process();
    }
  }

  /** Registers for WAL acknowledgements only while replies are held (kept cheap: no Set op per flush). */
  private setWaiting(waiting: boolean): void {
    if (waiting === this.isWaiting) return;
    this.isWaiting = waiting;
    if (waiting) this.ctx.waiting.add(this);
    else this.ctx.waiting.delete(this);
  }

  private end(): void {
    this.ended = true;
    this.setWaiting(false);
    this.socket.end();
  }

  destroy(): void {
    this.ended = true;
    this.setWaiting(false);
    this.socket.destroy();
  }

  /** At shutdown: no more requests are read; owed replies are still released. */
  stopReading(): void {
    this.closeAfterWrite = true;
    this.pauseReading();
  }

}

/** Frequent fixed replies as ready Buffers: a lone one is written without any copy. */
const fixed = {
  DELETED: Buffer.from('DELETED\r\n'),
  NOT_FOUND: Buffer.from('NOT_FOUND\r\n'),
  TOUCHED: Buffer.from('TOUCHED\r\n'),
  OK: Buffer.from('OK\r\n'),
};

const storeReply = {
  STORED: Buffer.from('STORED\r\n'),
  NOT_STORED: Buffer.from('NOT_STORED\r\n'),
  EXISTS: Buffer.from('EXISTS\r\n'),
  NOT_FOUND: fixed.NOT_FOUND,
  TOO_LARGE: 'SERVER_ERROR object too large for cache\r\n',
  NO_MEMORY: 'SERVER_ERROR out of memory storing object\r\n',
} as const;

const deltaReply = {
  NOT_FOUND: 'NOT_FOUND\r\n',
  NON_NUMERIC: 'CLIENT_ERROR cannot increment or decrement non-numeric value\r\n',
  NO_MEMORY: 'SERVER_ERROR out of memory\r\n',
} as const;

function isMutation(r: Request): boolean {
  switch (r.kind) {
    case 'store': case 'too_large': case 'delete': case 'delta': case 'touch': case 'flush_all': case 'cache_memlimit':
      return true;
    case 'get':
      return r.touchExptime !== undefined;
    default:
      return false;
  }
}
