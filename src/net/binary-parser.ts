// Streaming parser for memcached's binary protocol, fed socket chunks of any
// size or split. It frames requests (24-byte header, extras, key, value; see
// binary-format.ts) and makes the decisions memcached makes before running a
// command (proto_bin.c try_read_command_binary and dispatch_bin_command), so
// that the protocol only runs well-formed commands:
//
// - a header whose magic is not 0x80 closes the connection, without a reply;
// - extras and key are read first (at most 255 + 65535 bytes); then
//   - key length above the body length, or key + extras above it: "Unknown
//     command", then close;
//   - a key over 250 bytes: "Invalid arguments", then close;
//   - an opcode memcached does not know: "Unknown command", and the next
//     body-length bytes after the key are swallowed (memcached counts the
//     whole body again, extras and key included, so a frame with a key eats
//     into what follows: kept, to answer as memcached does);
//   - a known opcode with a shape memcached refuses: "Invalid arguments",
//     then close;
//   - SASL (no SASL here, as memcached without -S): "Unknown command", the
//     rest of the body swallowed;
//   - a store whose item would exceed -I: "Too large.", its value swallowed;
//   - otherwise the command, with its value read for stores.
//
// next() returns a request or null (more bytes needed); it never throws on
// input. Invariants: memory held is bounded by the bytes received and by
// -I (a value is copied into a buffer grown by doubling up to its size, so a
// sender of tiny chunks costs no more than what it sent); every request
// consumes at least its 24-byte header; after a close nothing more is parsed.

import { itemTotalBytes } from '../engine/engine.js';
import { key_length_max } from '../engine/limits.js';
import {
  Op, Status, baseOpcode, carriesValue, header_bytes, request_magic, shapeAccepted, type RequestId,
} from './binary-format.js';
import { ChunkedInput, empty_buffer } from './chunked-input.js';

/** A well-formed command, ready to run. */
export interface BinaryCommand extends RequestId {
  kind: 'command';
  /** The command it runs (a quiet opcode's loud form). */
  base: number;
  cas: bigint;
  extras: Buffer;
  /** Key bytes as latin1 (one char per byte), as the engine keys items. */
  key: string;
  /** The value of a store (owned: no view of a socket chunk); empty otherwise. */
  value: Buffer;
}

export type BinaryRequest =
  | BinaryCommand
  /** A store whose item would exceed -I: refused, its value swallowed. `base` is Set, Add, Replace, Append or Prepend. */
  | (RequestId & { kind: 'too_large'; base: number; key: string })
  /** A frame memcached answers with an error status without running it; closeAfter: then the connection ends. */
  | (RequestId & { kind: 'refuse'; status: number; closeAfter: boolean })
  /** Not a request (bad magic): the connection ends without a reply. */
  | { kind: 'close'; reason: string };

const enum State { Header, Prefix, Value, Swallow, Closed }

interface Header extends RequestId {
  extrasLength: number;
  keyLength: number;
  bodyLength: number;
  cas: bigint;
}

const empty = empty_buffer;

export class BinaryParser extends ChunkedInput {
  private state = State.Header;
  private header: Header | null = null;
  /** The command whose value is being read, and that value's length. */
  private pending: BinaryCommand | null = null;
  private valueBytes = 0;
  private swallowLeft = 0;
  /** Bytes of a header, prefix or value split across chunks: the first accBytes of acc. */
  private acc: Buffer = empty;
  private accBytes = 0;
  /** Whether the last collect() returned a view of the socket chunk (not an owned copy). */
  private collectedView = false;

  constructor(private readonly itemSizeMaxBytes: number) {
    super();
  }

  protected get inputClosed(): boolean { return this.state === State.Closed; }

  /**
   * memcached's state name while a frame's value arrives (conn_nread) or is
   * discarded (conn_swallow), for `stats conns` and the idle timeout; null
   * while a header, extras or key arrive (memcached reads those in
   * conn_read, before the frame is dispatched).
   */
  get dataState(): 'conn_nread' | 'conn_swallow' | null {
    return this.state === State.Value ? 'conn_nread' : this.state === State.Swallow ? 'conn_swallow' : null;
  }

  /** Bytes held but not yet consumed (for memory bounds). */
  get bufferedBytes(): number {
    return this.buf.length - this.pos + this.accBytes;
  }

  next(): BinaryRequest | null {
    for (;;) {
      switch (this.state) {
        case State.Closed:
          return null;
        case State.Header: {
          const bytes = this.collect(header_bytes);
          if (!bytes) return null;
          if (bytes[0] !== request_magic) return this.close(`bad binary magic 0x${bytes[0]!.toString(16)}`);
          this.header = readHeader(bytes);
          this.state = State.Prefix;
          break;
        }
        case State.Prefix: {
          const h = this.header!;
          const prefix = this.collect(h.extrasLength + h.keyLength);
          if (!prefix) return null;
          this.state = State.Header;
          const request = this.dispatch(h, prefix);
          if (request) return request;
          break;
        }
        case State.Value: {
          const command = this.pending!;
          const value = this.collect(this.valueBytes);
          if (!value) return null;
          command.value = this.collectedView ? Buffer.from(value) : value;
          this.pending = null;
          this.state = State.Header;
          return command;
        }
        case State.Swallow:
          if (!this.swallow()) return null;
          this.state = State.Header;
          break;
      }
    }
  }

  /** memcached's dispatch_bin_command, up to running the command; null when the value is still to be read. */
  private dispatch(h: Header, prefix: Buffer): BinaryRequest | null {
    const id: RequestId = { opcode: h.opcode, opaque: h.opaque };
    if (h.keyLength > h.bodyLength || h.keyLength + h.extrasLength > h.bodyLength) {
      return this.refuse(id, Status.UnknownCommand, true);
    }
    if (h.keyLength > key_length_max) return this.refuse(id, Status.InvalidArguments, true);
    const base = baseOpcode(h.opcode);
    const accepted = shapeAccepted(base, h.extrasLength, h.keyLength, h.bodyLength);
    if (accepted === undefined) return this.refuse(id, Status.UnknownCommand, false, h.bodyLength);
    if (!accepted) return this.refuse(id, Status.InvalidArguments, true);
    const valueBytes = h.bodyLength - h.extrasLength - h.keyLength;
    if (base === Op.SaslListMechs || base === Op.SaslAuth || base === Op.SaslStep) {
      return this.refuse(id, Status.UnknownCommand, false, valueBytes);
    }
    const key = prefix.toString('latin1', h.extrasLength);
    const extras = h.extrasLength ? Buffer.from(prefix.subarray(0, h.extrasLength)) : empty;
    const command: BinaryCommand = { kind: 'command', ...id, base, cas: h.cas, extras, key, value: empty };
    if (!carriesValue(base) || valueBytes === 0) return command;
    const flags = h.extrasLength >= 4 ? prefix.readUInt32BE(0) : 0;
    if (itemTotalBytes(h.keyLength, valueBytes, flags) > this.itemSizeMaxBytes) {
      this.startSwallow(valueBytes);
      return { kind: 'too_large', ...id, base, key };
    }
    this.pending = command;
    this.valueBytes = valueBytes;
    this.state = State.Value;
    return null;
  }

  private refuse(id: RequestId, status: number, closeAfter: boolean, swallowBytes = 0): BinaryRequest {
    if (closeAfter) this.stop();
    else this.startSwallow(swallowBytes);
    return { kind: 'refuse', ...id, status, closeAfter };
  }

  private startSwallow(bytes: number): void {
    if (bytes === 0) return;
    this.swallowLeft = bytes;
    this.state = State.Swallow;
  }

  private swallow(): boolean {
    const take = Math.min(this.swallowLeft, this.buf.length - this.pos);
    this.pos += take;
    this.swallowLeft -= take;
    return this.swallowLeft === 0;
  }

  /**
   * The next n bytes, once all have arrived (else null, keeping what came):
   * a view of the socket chunk when they are all in it (collectedView; valid
   * until detachInput), otherwise a buffer of exactly n bytes this parser
   * owns, grown by doubling as bytes arrive.
   */
  private collect(n: number): Buffer | null {
    const available = this.buf.length - this.pos;
    if (this.accBytes === 0 && available >= n) {
      this.collectedView = true;
      this.pos += n;
      return this.buf.subarray(this.pos - n, this.pos);
    }
    const take = Math.min(n - this.accBytes, available);
    const needed = this.accBytes + take;
    if (needed > this.acc.length) {
      const grown = Buffer.allocUnsafe(Math.min(n, Math.max(needed, 2 * this.acc.length, 256)));
      this.acc.copy(grown, 0, 0, this.accBytes);
      this.acc = grown;
    }
    this.buf.copy(this.acc, this.accBytes, this.pos, this.pos + take);
    this.accBytes = needed;
    this.pos += take;
    if (this.accBytes < n) return null;
    const whole = this.acc;
    this.acc = empty;
    this.accBytes = 0;
    this.collectedView = false;
    return whole;
  }

  private close(reason: string): BinaryRequest {
    this.stop();
    return { kind: 'close', reason };
  }

  private stop(): void {
    this.state = State.Closed;
    this.buf = empty;
    this.pos = 0;
    this.acc = empty;
    this.accBytes = 0;
    this.header = null;
    this.pending = null;
  }
}

function readHeader(b: Buffer): Header {
  return {
    opcode: b[1]!,
    keyLength: b.readUInt16BE(2),
    extrasLength: b[4]!,
    bodyLength: b.readUInt32BE(8),
    opaque: b.readUInt32BE(12),
    cas: b.readBigUInt64BE(16),
  };
}
