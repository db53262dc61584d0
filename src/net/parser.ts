// Streaming text-protocol parser, fed socket chunks of any size or split.
//
// States, as memcached's connection machine: `line` (conn_parse_cmd),
// `data` (conn_nread: a store's or an ms's data block of n + 2 bytes) and
// `swallow` (conn_swallow: the data of a refused store: too large, or an ms
// whose flags were bad). next() returns a
// Request, or null when it needs more bytes; it never throws on input.
//
// Invariants:
// - a data block is copied out of the socket chunks into its own buffer
//   (grown by doubling up to the block's size), so the value owns its bytes,
//   keeps no 64 KB socket chunk alive, and a sender of tiny chunks costs no
//   more memory than the bytes it sent;
// - a line with no '\n' after line_length_max bytes closes the connection,
//   except a get/gets line, which may grow to get_line_length_max (memcached's
//   try_read_command_ascii). A complete line is held to the same bounds,
//   counting its '\r', so the outcome never depends on how bytes were split;
// - an incomplete line is copied into one growing buffer (amortised linear
//   however small the chunks), released when the line completes;
// - a line ends at '\n'; one '\r' before it is dropped;
// - after a close request nothing more is parsed and pushed bytes are dropped.

import { get_line_length_max, line_length_max } from '../engine/limits.js';
import { parseCommandLine, type StoreHeader } from './commands.js';
import type { MetaSetHeader } from './meta.js';
import type { Request } from './requests.js';
import { ChunkedInput, empty_buffer } from './chunked-input.js';

const enum State { Line, Data, Swallow }

const empty = empty_buffer;

export class TextParser extends ChunkedInput {
  private state = State.Line;
  /** An incomplete line (no '\n' yet): its first lineBytes bytes. */
  private lineAcc: Buffer = empty;
  private lineBytes = 0;
  private header: StoreHeader | MetaSetHeader | null = null;
  /** A data block still arriving: its first dataBytes bytes. */
  private dataAcc: Buffer = empty;
  private dataBytes = 0;
  private swallowLeft = 0;
  private closed = false;

  constructor(private readonly itemSizeMaxBytes: number, private readonly strictKeys = false) {
    super();
  }

  protected get inputClosed(): boolean { return this.closed; }

  /** memcached's name for a connection inside a data block: reading it (conn_nread) or discarding it (conn_swallow). */
  get dataState(): 'conn_nread' | 'conn_swallow' | null {
    return this.state === State.Data ? 'conn_nread' : this.state === State.Swallow ? 'conn_swallow' : null;
  }

  /** Bytes buffered but not yet consumed (for memory bounds). */
  get bufferedBytes(): number {
    return this.buf.length - this.pos + this.lineBytes + this.dataBytes;
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
    if (this.lineBytes) {
      this.appendToLine(this.buf.subarray(this.pos, nl));
      line = this.lineAcc.subarray(0, this.lineBytes);
      // parseCommandLine keeps no view of the line, so the buffer can go now.
      this.lineAcc = empty;
      this.lineBytes = 0;
    } else {
      line = this.buf.subarray(this.pos, nl);
    }
    this.pos = nl + 1;
    // Bounds on the raw line ('\r' included), as holdPartialLine sees it.
    if (line.length > line_length_max && !isMultiGet(line)) return this.close('line too long');
    if (line.length > get_line_length_max) return this.close('line too long');
    const end = line.length > 1 && line[line.length - 1] === 0x0d ? line.length - 1 : line.length;
    const parsed = parseCommandLine(line, this.itemSizeMaxBytes, this.strictKeys, 0, end);
    switch (parsed.kind) {
      case 'store_header':
        if (parsed.tooLarge) return this.swallowThen(parsed.dataBytes, { kind: 'too_large', mode: parsed.mode, key: parsed.key, noreply: parsed.noreply });
        break;
      case 'meta_set_header':
        break;
      case 'swallow':
        return this.swallowThen(parsed.dataBytes, parsed.request);
      case 'close':
        return this.close(parsed.reason);
      default:
        return parsed;
    }
    this.header = parsed;
    this.state = State.Data;
    return undefined;
  }

  /** Answers `request` now; the next dataBytes bytes are dropped unread. */
  private swallowThen(dataBytes: number, request: Request): Request {
    this.state = State.Swallow;
    this.swallowLeft = dataBytes;
    return request;
  }

  private holdPartialLine(): Request | null {
    const rest = this.buf.subarray(this.pos);
    this.pos = this.buf.length;
    if (rest.length) this.appendToLine(rest);
    if (this.lineBytes > line_length_max) {
      if (!isMultiGet(this.lineAcc.subarray(0, this.lineBytes))) return this.close('line too long');
      if (this.lineBytes > get_line_length_max) return this.close('line too long');
    }
    return null;
  }

  /** Copy into the growing line buffer, doubling its capacity as needed. */
  private appendToLine(bytes: Buffer): void {
    const needed = this.lineBytes + bytes.length;
    if (needed > this.lineAcc.length) {
      const grown = Buffer.allocUnsafe(Math.max(needed, 2 * this.lineAcc.length, 256));
      this.lineAcc.copy(grown, 0, 0, this.lineBytes);
      this.lineAcc = grown;
    }
    bytes.copy(this.lineAcc, this.lineBytes);
    this.lineBytes = needed;
  }

  /** Copy into the data block's buffer, doubling its capacity up to the block's size. */
  private appendToData(bytes: Buffer, blockBytes: number): void {
    const needed = this.dataBytes + bytes.length;
    if (needed > this.dataAcc.length) {
      const grown = Buffer.allocUnsafe(Math.min(blockBytes, Math.max(needed, 2 * this.dataAcc.length, 4096)));
      this.dataAcc.copy(grown, 0, 0, this.dataBytes);
      this.dataAcc = grown;
    }
    bytes.copy(this.dataAcc, this.dataBytes);
    this.dataBytes = needed;
  }

  private readData(): Request | null {
    const header = this.header!;
    const need = header.dataBytes - this.dataBytes;
    const available = this.buf.length - this.pos;
    if (available < need) {
      if (available > 0) {
        this.appendToData(this.buf.subarray(this.pos), header.dataBytes);
        this.pos = this.buf.length;
      }
      return null;
    }
    const n = header.dataBytes - 2;
    let value: Buffer;
    let terminated: boolean;
    if (this.dataBytes === 0) {
      // The whole block is in this chunk: copy just the value out of it.
      const at = this.pos;
      terminated = this.buf[at + n] === 0x0d && this.buf[at + n + 1] === 0x0a;
      value = Buffer.allocUnsafe(n);
      this.buf.copy(value, 0, at, at + n);
    } else {
      this.appendToData(this.buf.subarray(this.pos, this.pos + need), header.dataBytes);
      terminated = this.dataAcc[n] === 0x0d && this.dataAcc[n + 1] === 0x0a;
      value = this.dataAcc.subarray(0, n);
    }
    this.pos += need;
    this.dataAcc = empty;
    this.dataBytes = 0;
    this.header = null;
    this.state = State.Line;
    if (header.kind === 'meta_set_header') {
      // meta errors are always answered (memcached clears noreply for them).
      return terminated ? { ...header.request, value } : { kind: 'reply', line: 'CLIENT_ERROR bad data chunk', noreply: false };
    }
    if (!terminated) {
      return { kind: 'reply', line: 'CLIENT_ERROR bad data chunk', noreply: header.noreply };
    }
    return {
      kind: 'store', mode: header.mode, key: header.key, flags: header.flags, exptime: header.exptime,
      casUnique: header.casUnique, noreply: header.noreply, value,
    };
  }

  private close(reason: string): Request {
    this.closed = true;
    this.buf = empty;
    this.pos = 0;
    this.lineAcc = empty;
    this.lineBytes = 0;
    this.dataAcc = empty;
    this.dataBytes = 0;
    this.header = null;
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
