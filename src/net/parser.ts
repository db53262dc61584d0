// Streaming text-protocol parser, fed socket chunks of any size or split.
//
// States, as memcached's connection machine: `line` (conn_parse_cmd),
// `data` (conn_nread: a store's data block of n + 2 bytes) and `swallow`
// (conn_swallow: the data of a refused, too-large store). next() returns a
// Request, or null when it needs more bytes; it never throws on input.
//
// Invariants:
// - a data block's chunks are collected and copied once when complete, so the
//   value owns its bytes and keeps no 64 KB socket chunk alive;
// - a line with no '\n' after line_length_max bytes closes the connection,
//   except a get/gets line, which may grow to get_line_length_max (memcached's
//   try_read_command_ascii);
// - a line ends at '\n'; one '\r' before it is dropped.

import { get_line_length_max, line_length_max } from '../engine/limits.js';
import { parseCommandLine, type StoreHeader } from './commands.js';
import type { Request } from './requests.js';

const enum State { Line, Data, Swallow }

export class TextParser {
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  private state = State.Line;
  /** Parts of an incomplete line (none of them holds '\n'). */
  private lineParts: Buffer[] = [];
  private linePartsBytes = 0;
  private header: StoreHeader | null = null;
  private dataParts: Buffer[] = [];
  private dataPartsBytes = 0;
  private swallowLeft = 0;
  private closed = false;

  constructor(private readonly itemSizeMaxBytes: number) {}

  push(chunk: Buffer): void {
    if (this.pos < this.buf.length) {
      // Only happens when the caller pushes before draining next(); keep it correct.
      this.buf = Buffer.concat([this.buf.subarray(this.pos), chunk]);
    } else {
      this.buf = chunk;
    }
    this.pos = 0;
  }

  /** Bytes buffered but not yet consumed (for memory bounds). */
  get bufferedBytes(): number {
    return this.buf.length - this.pos + this.linePartsBytes + this.dataPartsBytes;
  }

  next(): Request | null {
    for (;;) {
      if (this.closed) return null;
      switch (this.state) {
        case State.Swallow:
          if (!this.swallow()) return null;
          break;
        case State.Data:
          return this.readData();
        case State.Line: {
          const request = this.readLine();
          if (request !== undefined) return request;
          break;
        }
      }
    }
  }

  private swallow(): boolean {
    const take = Math.min(this.swallowLeft, this.buf.length - this.pos);
    this.pos += take;
    this.swallowLeft -= take;
    if (this.swallowLeft > 0) return false;
    this.state = State.Line;
    return true;
  }

  /** A Request, null (need more bytes), or undefined (state changed; loop again). */
  private readLine(): Request | null | undefined {
    const nl = this.buf.indexOf(0x0a, this.pos);
    if (nl < 0) return this.holdPartialLine();
    let line: Buffer;
    if (this.lineParts.length) {
      this.lineParts.push(this.buf.subarray(this.pos, nl));
      line = Buffer.concat(this.lineParts);
      this.lineParts = [];
      this.linePartsBytes = 0;
    } else {
      line = this.buf.subarray(this.pos, nl);
    }
    this.pos = nl + 1;
    if (line.length > 1 && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
    if (line.length > line_length_max && !isMultiGet(line)) return this.close('line too long');
    if (line.length > get_line_length_max) return this.close('get line too long');
    const parsed = parseCommandLine(line, this.itemSizeMaxBytes);
    if (parsed.kind !== 'store_header') {
      if (parsed.kind === 'close') this.closed = true;
      return parsed;
    }
    if (parsed.tooLarge) {
      this.state = State.Swallow;
      this.swallowLeft = parsed.dataBytes;
      return { kind: 'too_large', mode: parsed.mode, key: parsed.key, noreply: parsed.noreply };
    }
    this.header = parsed;
    this.state = State.Data;
    return undefined;
  }

  private holdPartialLine(): Request | null {
    const rest = this.buf.subarray(this.pos);
    this.pos = this.buf.length;
    if (rest.length) {
      this.lineParts.push(rest);
      this.linePartsBytes += rest.length;
    }
    if (this.linePartsBytes > line_length_max) {
      const head = this.lineParts.length === 1 ? this.lineParts[0]! : Buffer.concat(this.lineParts).subarray(0, 200);
      if (!isMultiGet(head)) return this.close('line too long without a newline');
      if (this.linePartsBytes > get_line_length_max) return this.close('get line too long');
      if (this.lineParts.length > 64) {
        // Keep the part list short so a byte-by-byte sender costs linear time.
        this.lineParts = [Buffer.concat(this.lineParts)];
      }
    }
    return null;
  }

  private readData(): Request | null {
    const header = this.header!;
    const need = header.dataBytes - this.dataPartsBytes;
    const available = this.buf.length - this.pos;
    if (available < need) {
      if (available > 0) {
        this.dataParts.push(this.buf.subarray(this.pos));
        this.dataPartsBytes += available;
        this.pos = this.buf.length;
      }
      return null;
    }
    const last = this.buf.subarray(this.pos, this.pos + need);
    this.pos += need;
    const block = this.dataParts.length ? Buffer.concat([...this.dataParts, last]) : Buffer.from(last);
    this.dataParts = [];
    this.dataPartsBytes = 0;
    this.header = null;
    this.state = State.Line;
    const n = header.dataBytes - 2;
    if (block[n] !== 0x0d || block[n + 1] !== 0x0a) {
      return { kind: 'reply', line: 'CLIENT_ERROR bad data chunk', noreply: header.noreply };
    }
    return {
      kind: 'store', mode: header.mode, key: header.key, flags: header.flags, exptime: header.exptime,
      casUnique: header.casUnique, noreply: header.noreply, value: block.subarray(0, n),
    };
  }

  private close(reason: string): Request {
    this.closed = true;
    return { kind: 'close', reason };
  }
}

/** memcached lets only get/gets lines (after at most 100 leading spaces) run past 2048 bytes. */
function isMultiGet(line: Buffer): boolean {
  let i = 0;
  while (i < line.length && line[i] === 0x20) i++;
  if (i > 100) return false;
  const word = line.toString('latin1', i, i + 5);
  return word.startsWith('get ') || word === 'gets ';
}
