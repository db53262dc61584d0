// memcached's binary protocol on the wire (memcached's protocol_binary.h and
// proto_bin.c, 1.6.18): magics, opcodes, statuses with their error texts,
// the request shapes memcached accepts, and the response packet layout.
//
// Every packet starts with a 24-byte header (big-endian):
//   0 magic (0x80 request, 0x81 response)   1 opcode   2 key length (16 bits)
//   4 extras length   5 data type (0)   6 vbucket (request) / status (response)
//   8 total body length (32 bits: extras + key + value)
//   12 opaque (echoed as sent)   16 CAS (64 bits)
// then extras, key and value, in that order.
//
// Invariant: the tables here are memcached's; the parser and the protocol
// take every opcode, shape and status decision from them.

/** Opcodes memcached 1.6.18 knows (it has no verbosity, and no SASL without -S). */
export const Op = {
  Get: 0x00, Set: 0x01, Add: 0x02, Replace: 0x03, Delete: 0x04, Increment: 0x05, Decrement: 0x06,
  Quit: 0x07, Flush: 0x08, GetQ: 0x09, Noop: 0x0a, Version: 0x0b, GetK: 0x0c, GetKQ: 0x0d,
  Append: 0x0e, Prepend: 0x0f, Stat: 0x10, SetQ: 0x11, AddQ: 0x12, ReplaceQ: 0x13, DeleteQ: 0x14,
  IncrementQ: 0x15, DecrementQ: 0x16, QuitQ: 0x17, FlushQ: 0x18, AppendQ: 0x19, PrependQ: 0x1a,
  Touch: 0x1c, Gat: 0x1d, GatQ: 0x1e, SaslListMechs: 0x20, SaslAuth: 0x21, SaslStep: 0x22, GatK: 0x23, GatKQ: 0x24,
} as const;

export const Status = {
  Success: 0x00, KeyNotFound: 0x01, KeyExists: 0x02, TooLarge: 0x03, InvalidArguments: 0x04,
  NotStored: 0x05, DeltaBadValue: 0x06, UnknownCommand: 0x81, OutOfMemory: 0x82,
} as const;

/** write_bin_error's texts for a status given no text of its own. */
export const status_text: Readonly<Record<number, string>> = {
  [Status.KeyNotFound]: 'Not found',
  [Status.KeyExists]: 'Data exists for key.',
  [Status.TooLarge]: 'Too large.',
  [Status.InvalidArguments]: 'Invalid arguments',
  [Status.NotStored]: 'Not stored.',
  [Status.DeltaBadValue]: 'Non-numeric server-side value for incr or decr',
  [Status.UnknownCommand]: 'Unknown command',
  [Status.OutOfMemory]: 'Out of memory',
};

export const request_magic = 0x80;
export const response_magic = 0x81;
export const header_bytes = 24;

/** Extras of incr/decr: 8-byte delta, 8-byte initial value, 4-byte expiration. */
export const delta_extras_bytes = 20;
/** An incr/decr expiration meaning "do not create a missing item". */
export const delta_no_create = 0xffffffff;

/** Each quiet opcode and the command it is the quiet form of (dispatch_bin_command). */
const quiet_forms: ReadonlyMap<number, number> = new Map([
  [Op.SetQ, Op.Set], [Op.AddQ, Op.Add], [Op.ReplaceQ, Op.Replace], [Op.DeleteQ, Op.Delete],
  [Op.IncrementQ, Op.Increment], [Op.DecrementQ, Op.Decrement], [Op.QuitQ, Op.Quit], [Op.FlushQ, Op.Flush],
  [Op.AppendQ, Op.Append], [Op.PrependQ, Op.Prepend], [Op.GetQ, Op.Get], [Op.GetKQ, Op.GetK],
  [Op.GatQ, Op.Gat], [Op.GatKQ, Op.GatK],
]);

/** The command an opcode runs: a quiet opcode's loud form, any other opcode itself. */
export function baseOpcode(opcode: number): number {
  return quiet_forms.get(opcode) ?? opcode;
}

/** Quiet: success (and a get miss) is not answered; errors are. */
export function isQuiet(opcode: number): boolean {
  return quiet_forms.has(opcode);
}

/** Commands whose value follows the key: read (or swallowed when too large). */
export function carriesValue(base: number): boolean {
  return base === Op.Set || base === Op.Add || base === Op.Replace || base === Op.Append || base === Op.Prepend;
}

/**
 * Whether a frame of a known command has a shape memcached accepts (its
 * dispatch_bin_command; anything else is "Invalid arguments" and a close).
 * undefined for an opcode memcached does not know.
 */
export function shapeAccepted(base: number, extrasLength: number, keyLength: number, bodyLength: number): boolean | undefined {
  const bare = extrasLength === 0 && keyLength === 0 && bodyLength === 0;
  switch (base) {
    case Op.Version: case Op.Noop: case Op.Quit: case Op.SaslListMechs:
      return bare;
    case Op.Flush:
      return keyLength === 0 && bodyLength === extrasLength && (extrasLength === 0 || extrasLength === 4);
    case Op.Set: case Op.Add: case Op.Replace:
      return extrasLength === 8 && keyLength !== 0 && bodyLength >= keyLength + 8;
    case Op.Get: case Op.GetK:
      return extrasLength === 0 && bodyLength === keyLength && keyLength > 0;
    case Op.Delete:
      return keyLength > 0 && extrasLength === 0 && bodyLength === keyLength;
    case Op.Increment: case Op.Decrement:
      return keyLength > 0 && extrasLength === delta_extras_bytes && bodyLength === keyLength + extrasLength;
    case Op.Append: case Op.Prepend:
      return keyLength > 0 && extrasLength === 0;
    case Op.Stat:
      return extrasLength === 0;
    case Op.SaslAuth: case Op.SaslStep:
      return extrasLength === 0 && keyLength !== 0;
    case Op.Touch: case Op.Gat: case Op.GatK:
      return extrasLength === 4 && keyLength !== 0;
    default:
      return undefined;
  }
}

/** What a response echoes of its request. */
export interface RequestId { opcode: number; opaque: number }

/**
 * A response packet's header, followed by its extras (4-byte flags when
 * `flags` is given) and key; the caller sends `valueBytes` of value after it.
 */
export function responseHead(id: RequestId, status: number, cas: number, flags: number | undefined, key: string, valueBytes: number): Buffer {
  const extrasLength = flags === undefined ? 0 : 4;
  const head = Buffer.allocUnsafe(header_bytes + extrasLength + key.length);
  head[0] = response_magic;
  head[1] = id.opcode;
  head.writeUInt16BE(key.length, 2);
  head[4] = extrasLength;
  head[5] = 0;
  head.writeUInt16BE(status, 6);
  head.writeUInt32BE(extrasLength + key.length + valueBytes, 8);
  head.writeUInt32BE(id.opaque, 12);
  // CAS uniques are below 2^53 (engine numbers): high and low 32-bit halves.
  head.writeUInt32BE(Math.floor(cas / 0x1_0000_0000), 16);
  head.writeUInt32BE(cas % 0x1_0000_0000, 20);
  if (flags !== undefined) head.writeUInt32BE(flags, header_bytes);
  if (key.length) head.write(key, header_bytes + extrasLength, 'latin1');
  return head;
}
