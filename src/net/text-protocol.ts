// memcached's classic text protocol: runs parsed requests (parser.ts) on the
// engine and words the replies exactly as memcached does. Meta requests
// (mg ms md ma me) arrive on the same connection and run in meta-protocol.ts.
//
// Invariant: every request ends in exactly one commit, carrying the highest
// WAL sequence its reply reflects (a miss reflects the last removal), so the
// connection can hold the reply until that sequence is durable.

import type { ItemView } from '../engine/types.js';
import { lruCrawlerCommand, shutdownCommand } from './admin.js';
import { executeMeta, isMetaMutation } from './meta-protocol.js';
import { TextParser } from './parser.js';
import type { Protocol, ReplySink, ServerContext } from './protocol.js';
import type { Request } from './requests.js';
import { connectionStats, formatStats, resetStats, server_version, statGroup } from './stats.js';

const disk_full_reply = 'SERVER_ERROR out of disk space\r\n';

export class TextProtocol implements Protocol<Request> {
  private readonly parser: TextParser;

  constructor(private readonly ctx: ServerContext) {
    this.parser = new TextParser(ctx.settings.itemSizeMaxBytes, ctx.settings.strictKeys);
  }

  push(chunk: Buffer): void { this.parser.push(chunk); }
  detachInput(): void { this.parser.detachInput(); }
  next(): Request | null { return this.parser.next(); }
  isMutation(request: Request): boolean { return isMutation(request); }
  dataState(): 'conn_nread' | 'conn_swallow' | null { return this.parser.dataState; }

  refuseDiskFull(request: Request, out: ReplySink): void {
    if (!('noreply' in request && request.noreply)) out.reply.addText(disk_full_reply);
    out.commit(0);
  }

  execute(request: Request, out: ReplySink): void {
    const { backend } = this.ctx;
    const engine = backend.engine;
    const now = backend.now();
    switch (request.kind) {
      case 'get':
        return this.get(request.keys, request.withCas, request.touchExptime, request.error, now, out);
      case 'store': {
        const r = engine.store(request.mode, request.key, request.flags, request.exptime, request.value, request.casUnique, now);
        return answer(out, request.noreply, storeReply[r.status], r.seq);
      }
      case 'too_large': {
        const r = engine.rejectTooLarge(request.mode, request.key, now);
        return answer(out, request.noreply, 'SERVER_ERROR object too large for cache\r\n', r.seq);
      }
      case 'delete': {
        const r = engine.delete(request.key, now);
        return answer(out, request.noreply, r.status === 'DELETED' ? fixed.DELETED : fixed.NOT_FOUND, r.seq);
      }
      case 'delta': {
        const r = engine.delta(request.key, request.incr, request.delta, now);
        const text = r.status === 'VALUE' ? `${r.value}\r\n` : deltaReply[r.status];
        return answer(out, request.noreply, text, r.seq);
      }
      case 'touch': {
        const r = engine.touch(request.key, request.exptime, now);
        return answer(out, request.noreply, r.status === 'TOUCHED' ? fixed.TOUCHED : fixed.NOT_FOUND, r.seq);
      }
      case 'flush_all': {
        const r = engine.flushAll(request.delaySeconds, now);
        return answer(out, request.noreply, fixed.OK, r.seq);
      }
      case 'version':
        return answer(out, false, `VERSION ${server_version}\r\n`, 0);
      case 'verbosity':
        this.ctx.settings.verbosity = Math.min(request.level, 2);
        return answer(out, request.noreply, 'OK\r\n', 0);
      case 'quit':
        return out.commit(0, true);
      case 'stats':
        return answer(out, false, this.stats(request.args), 0);
      case 'cache_memlimit':
        return this.memlimit(request.megabytes, request.noreply, out);
      case 'reply':
        return answer(out, request.noreply, `${request.line}\r\n`, 0);
      case 'close':
        this.ctx.log(2, `closing connection: ${request.reason}`);
        return out.commit(0, true);
      case 'meta':
        return executeMeta(this.ctx, request, out);
      case 'lru_crawler':
        return lruCrawlerCommand(this.ctx, request.args, out);
      case 'shutdown':
        return shutdownCommand(this.ctx, request.args, out);
    }
  }

  /** With `error`, the keys are looked up (and touched) for their effects only, and the error is the reply. */
  private get(keys: string[], withCas: boolean, touchExptime: number | undefined, error: string | undefined, now: number, out: ReplySink): void {
    const engine = this.ctx.backend.engine;
    const reply = out.reply;
    let seq = 0;
    for (const key of keys) {
      const item: ItemView | undefined = engine.get(key, now, touchExptime);
      if (!item) {
        if (engine.removalSeq > seq) seq = engine.removalSeq;
        continue;
      }
      if (item.seq > seq) seq = item.seq;
      if (error !== undefined) continue;
      reply.addText(withCas
        ? `VALUE ${key} ${item.flags} ${item.value.length} ${item.cas}\r\n`
        : `VALUE ${key} ${item.flags} ${item.value.length}\r\n`);
      reply.addValue(item.value);
      reply.addText('\r\n');
    }
    reply.addText(error === undefined ? 'END\r\n' : `${error}\r\n`);
    out.commit(seq);
  }

  private memlimit(megabytes: number | null, noreply: boolean, out: ReplySink): void {
    const engine = this.ctx.backend.engine;
    let text: string;
    if (megabytes === null) text = 'ERROR';
    else if (megabytes < 8) text = 'MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m';
    else if (megabytes > 1_000_000_000) text = 'MEMLIMIT_ADJUST_FAILED input value is megabytes not bytes';
    else {
      engine.setMemoryLimit(megabytes * 1024 * 1024, this.ctx.backend.now());
      text = 'OK';
    }
    answer(out, noreply, `${text}\r\n`, engine.lastSeq);
  }

  private stats(args: string[]): string {
    if (args[0] === 'reset') {
      resetStats(this.ctx);
      return 'RESET\r\n';
    }
    if (args[0] === 'conns') return formatStats(connectionStats(this.ctx.connections?.() ?? []));
    const lines = statGroup(this.ctx, args[0] ?? null);
    return lines ? formatStats(lines) : 'ERROR\r\n';
  }
}

function answer(out: ReplySink, noreply: boolean, text: string | Buffer, seq: number): void {
  if (!noreply) {
    if (typeof text === 'string') out.reply.addText(text);
    else out.reply.addValue(text);
  }
  out.commit(seq);
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
  /** Unreachable here: text incr/decr carry no CAS unique. */
  EXISTS: 'EXISTS\r\n',
} as const;

function isMutation(r: Request): boolean {
  switch (r.kind) {
    case 'store': case 'too_large': case 'delete': case 'delta': case 'touch': case 'flush_all': case 'cache_memlimit':
      return true;
    case 'get':
      return r.touchExptime !== undefined;
    case 'meta':
      return isMetaMutation(r);
    default:
      return false;
  }
}
