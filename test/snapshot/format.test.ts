// Item line encoding and reading: ItemLineWriter must give exactly the bytes
// of the reference encoder (encodeItem: JSON.stringify), and readItemLines
// must read any valid item line (its byte-level fast path, or JSON.parse for
// layouts it does not take) to the same item parseItem gives.

import { describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { encodeItem, ItemLineWriter, parseItem, readItemLines, type SnapshotItem } from '../../src/snapshot/format.js';

const latin1Key = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 40 }).map((b) => Buffer.from(b).toString('latin1'));
const asciiKey = fc.string({ minLength: 1, maxLength: 40, unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)) });
const itemArb: fc.Arbitrary<SnapshotItem> = fc.record({
  key: fc.oneof(asciiKey, latin1Key),
  value: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
  flags: fc.oneof(fc.constantFrom(0, 1, 0xffffffff), fc.integer({ min: 0, max: 0xffffffff })),
  expiresAtMs: fc.oneof(fc.constantFrom(0, 1, 999_999_999_999_999, 1_000_000_000_000_000), fc.nat()),
  cas: fc.oneof(fc.constantFrom(1, Number.MAX_SAFE_INTEGER), fc.nat()),
});

function writeAll(items: SnapshotItem[]): Buffer {
  const w = new ItemLineWriter();
  for (const it of items) {
    const key = Buffer.from(it.key, 'latin1');
    w.visitor(key, 0, key.length, it.value, 0, it.value.length, it.flags, it.expiresAtMs, it.cas);
  }
  expect(w.count).toBe(items.length);
  return Buffer.from(w.take());
}

function readAll(buf: Buffer): SnapshotItem[] {
  const out: SnapshotItem[] = [];
  readItemLines(buf, 0, buf.length, (keyBytes, keyStart, keyEnd, value, start, end, flags, expiresAtMs, cas) => {
    out.push({ key: keyBytes.toString('latin1', keyStart, keyEnd), value: Buffer.from(value.subarray(start, end)), flags, expiresAtMs, cas });
  });
  return out;
}

describe('item lines', () => {
  it('ItemLineWriter writes exactly what encodeItem gives, and readItemLines reads it back (property)', () => {
    fc.assert(fc.property(fc.array(itemArb, { maxLength: 20 }), (items) => {
      const bytes = writeAll(items);
      expect(bytes.toString('utf8')).toBe(items.map(encodeItem).join(''));
      expect(readAll(bytes)).toEqual(items);
    }), { numRuns: 300 });
  });

  it('reads what ItemLineWriter writes without JSON.parse (the byte-level path), values longer than its scratch buffer too', () => {
    const items: SnapshotItem[] = [
      { key: 'a', value: Buffer.alloc(0), flags: 0, expiresAtMs: 0, cas: 1 },
      { key: 'b', value: Buffer.from('x'), flags: 1, expiresAtMs: 2, cas: 3 },
      { key: 'c', value: Buffer.from('xy'), flags: 0xffffffff, expiresAtMs: 999_999_999_999_999, cas: 999_999_999_999_999 }, // 15 digits: the most it reads itself
      { key: 'big', value: Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 131) & 0xff)), flags: 0, expiresAtMs: 0, cas: 4 },
      { key: 'd', value: Buffer.from('xyz'), flags: 0, expiresAtMs: 0, cas: 5 },
    ];
    const bytes = writeAll(items);
    const parse = vi.spyOn(JSON, 'parse');
    try {
      expect(readAll(bytes)).toEqual(items);
      expect(parse).not.toHaveBeenCalled();
    } finally {
      parse.mockRestore();
    }
  });

  it('reads lines in another valid layout through JSON.parse, to what parseItem gives', () => {
    const lines = [
      '{"c":3,"e":0,"f":5,"v":"aGk=","k":"reordered"}',
      '{ "k" : "spaced", "v" : "", "f" : 0, "e" : 0, "c" : 1 }',
      '{"k":"esc\\"aped\\\\","v":"AA==","f":1,"e":2,"c":3}',
      '{"k":"big","v":"","f":0,"e":1234567890123456,"c":9007199254740991}',
      '{"k":"\\u00e9t\\u00e9","v":"/w==","f":0,"e":0,"c":4}',
      '{"k":"unpadded","v":"aGk","f":0,"e":0,"c":5}',
      '{"k":"stray-bits","v":"aGl=","f":0,"e":0,"c":6}',
      '{"k":"not-base64","v":"a$b%","f":0,"e":0,"c":7}',
    ];
    const got = readAll(Buffer.from(lines.map((l) => `${l}\n`).join(''), 'utf8'));
    expect(got).toEqual(lines.map((l) => parseItem(l)));
  });

  it('reads any bytes exactly as JSON.parse of each line does: a damaged line read fast is read as parseItem reads it, or refused at its offset (property)', () => {
    /** The reference: split at newlines within [from, to), parseItem each line. */
    const reference = (buf: Buffer, from: number, to: number): SnapshotItem[] | string => {
      const out: SnapshotItem[] = [];
      for (let at = from; at < to;) {
        let nl = buf.indexOf(0x0a, at);
        if (nl < 0 || nl > to) nl = to;
        const item = parseItem(buf.toString('utf8', at, nl));
        if (!item) return `bad item line at byte ${at}`;
        out.push(item);
        at = nl + 1;
      }
      return out;
    };
    const readRange = (buf: Buffer, from: number, to: number): SnapshotItem[] | string => {
      const out: SnapshotItem[] = [];
      try {
        readItemLines(buf, from, to, (keyBytes, keyStart, keyEnd, value, start, end, flags, expiresAtMs, cas) => {
          out.push({ key: keyBytes.toString('latin1', keyStart, keyEnd), value: Buffer.from(value.subarray(start, end)), flags, expiresAtMs, cas });
        });
      } catch (err) {
        return (err as Error).message;
      }
      return out;
    };
    const damageArb = fc.array(fc.tuple(fc.nat(), fc.constantFrom(0x0a, 0x22, 0x3d, 0x5c, 0x7d, 0x41, 0x30, 0x2c, 0x20, 0xe9, 0x00)), { maxLength: 3 });
    fc.assert(fc.property(fc.array(itemArb, { minLength: 1, maxLength: 6 }), damageArb, fc.nat(), fc.nat(), (items, damage, a, b) => {
      const buf = writeAll(items);
      for (const [at, byte] of damage) buf[at % buf.length] = byte;
      // any range, also one that ends mid-line with more bytes after it
      const from = 0;
      const to = b % 3 === 0 ? buf.length : (a % buf.length) + 1;
      expect(readRange(buf, from, to)).toEqual(reference(buf, from, to));
    }), { numRuns: 1000 });
  });

  it.each([
    ['not JSON', 'nonsense'],
    ['flags above 32 bits', '{"k":"a","v":"","f":4294967296,"e":0,"c":1}'],
    ['a leading zero', '{"k":"a","v":"","f":01,"e":0,"c":1}'],
    ['a missing field', '{"k":"a","v":"","f":0,"e":0}'],
    ['a negative number', '{"k":"a","v":"","f":0,"e":-1,"c":1}'],
    ['a key char above 0xff', '{"k":"\\u0100","v":"","f":0,"e":0,"c":1}'],
    ['a key longer than 250 bytes', `{"k":"${'x'.repeat(251)}","v":"","f":0,"e":0,"c":1}`],
  ])('refuses a line with %s, naming its byte offset', (_what, line) => {
    const good = '{"k":"ok","v":"","f":0,"e":0,"c":1}\n';
    expect(() => readAll(Buffer.from(`${good}${line}\n`))).toThrow(`bad item line at byte ${good.length}`);
  });
});
