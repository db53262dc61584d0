// Builders and readers for binary-protocol packets in tests, written from the
// protocol description (24-byte big-endian header, extras, key, value) rather
// than from src/, so the tests check the implementation against the format.

/** Request opcodes, written out from protocol_binary.h independently of src/net/binary-format.ts. */
export const OP = {
  get: 0x00, set: 0x01, add: 0x02, replace: 0x03, delete: 0x04, incr: 0x05, decr: 0x06, quit: 0x07, flush: 0x08,
  getq: 0x09, noop: 0x0a, version: 0x0b, getk: 0x0c, getkq: 0x0d, append: 0x0e, prepend: 0x0f, stat: 0x10,
  setq: 0x11, addq: 0x12, replaceq: 0x13, deleteq: 0x14, incrq: 0x15, decrq: 0x16, quitq: 0x17, flushq: 0x18,
  appendq: 0x19, prependq: 0x1a, touch: 0x1c, gat: 0x1d, gatq: 0x1e, gatk: 0x23, gatkq: 0x24,
} as const;

export interface FrameOpts {
  key?: string;
  extras?: Buffer;
  value?: string | Buffer;
  opaque?: number;
  cas?: bigint;
  /** Overrides for malformed frames. */
  magic?: number;
  keyLength?: number;
  bodyLength?: number;
}

/** A request packet. Keys and string values are latin1 (one byte per char). */
export function frame(opcode: number, o: FrameOpts = {}): Buffer {
  const key = Buffer.from(o.key ?? '', 'latin1');
  const extras = o.extras ?? Buffer.alloc(0);
  const value = typeof o.value === 'string' ? Buffer.from(o.value, 'latin1') : o.value ?? Buffer.alloc(0);
  const h = Buffer.alloc(24);
  h[0] = o.magic ?? 0x80;
  h[1] = opcode;
  h.writeUInt16BE(o.keyLength ?? key.length, 2);
  h[4] = extras.length;
  h.writeUInt32BE(o.bodyLength ?? extras.length + key.length + value.length, 8);
  h.writeUInt32BE(o.opaque ?? 0, 12);
  h.writeBigUInt64BE(o.cas ?? 0n, 16);
  return Buffer.concat([h, extras, key, value]);
}

export const u32s = (...n: number[]): Buffer => {
  const b = Buffer.alloc(4 * n.length);
  n.forEach((x, i) => b.writeUInt32BE(x, 4 * i));
  return b;
};

export const u64 = (n: bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(n);
  return b;
};

/** set/add/replace extras: flags, exptime. */
export const storeExtras = (flags = 0, exptime = 0): Buffer => u32s(flags, exptime);
/** incr/decr extras: delta, initial, expiration. */
export const deltaExtras = (delta: bigint, initial = 0n, expiration = 0): Buffer => Buffer.concat([u64(delta), u64(initial), u32s(expiration)]);

export interface Packet {
  magic: number;
  opcode: number;
  status: number;
  dataType: number;
  opaque: number;
  cas: bigint;
  extras: Buffer;
  key: string;
  value: Buffer;
}

/** Splits a response byte stream into packets; `rest` is an incomplete tail. */
export function readPackets(bytes: Buffer): { packets: Packet[]; rest: Buffer } {
  const packets: Packet[] = [];
  let at = 0;
  while (at + 24 <= bytes.length) {
    const keyLength = bytes.readUInt16BE(at + 2);
    const extrasLength = bytes[at + 4]!;
    const bodyLength = bytes.readUInt32BE(at + 8);
    if (at + 24 + bodyLength > bytes.length) break;
    const body = bytes.subarray(at + 24, at + 24 + bodyLength);
    packets.push({
      magic: bytes[at]!, opcode: bytes[at + 1]!, dataType: bytes[at + 5]!, status: bytes.readUInt16BE(at + 6),
      opaque: bytes.readUInt32BE(at + 12), cas: bytes.readBigUInt64BE(at + 16),
      extras: Buffer.from(body.subarray(0, extrasLength)),
      key: body.toString('latin1', extrasLength, extrasLength + keyLength),
      value: Buffer.from(body.subarray(extrasLength + keyLength)),
    });
    at += 24 + bodyLength;
  }
  return { packets, rest: bytes.subarray(at) };
}

/** A packet in one line, for readable assertions and diffs. */
export function describePacket(p: Packet): string {
  const parts = [`op=0x${p.opcode.toString(16)}`, `status=0x${p.status.toString(16)}`, `opaque=${p.opaque}`, `cas=${p.cas}`];
  if (p.magic !== 0x81) parts.unshift(`magic=0x${p.magic.toString(16)}`);
  if (p.dataType !== 0) parts.push(`datatype=${p.dataType}`);
  if (p.extras.length) parts.push(`extras=${p.extras.toString('hex')}`);
  if (p.key) parts.push(`key=${JSON.stringify(p.key)}`);
  if (p.value.length) parts.push(`value=${JSON.stringify(p.value.toString('latin1'))}`);
  return parts.join(' ');
}
