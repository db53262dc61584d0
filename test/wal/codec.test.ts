import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Engine } from '../../src/engine/engine.js';
import { crc32 } from 'node:zlib';
import {
  crc32Of,
  decodeRecordAt,
  effectOf,
  encodeRecord,
  encodeRecordInto,
  recordBytes,
  newRecordFields,
  readRecordAt,
  looksLikeRecordAfter,
  record_header_bytes,
  record_payload_max_bytes,
} from '../../src/wal/codec.js';
import type { Effect } from '../../src/engine/types.js';

const max_u64_safe = Number.MAX_SAFE_INTEGER; // 2^53 - 1

/** Every byte 0x00-0xff as a latin1 key (the engine's key representation). */
const allBytesKey = Buffer.from(Array.from({ length: 256 }, (_, i) => i)).toString('latin1');
const highBytesKey = Buffer.from(Array.from({ length: 128 }, (_, i) => 0x80 + i)).toString('latin1');

/** toEqual, but with Buffer values compared by bytes (vitest's deep equality walks a 1 MiB Buffer slowly). */
function expectSameEffect(actual: Effect, expected: Effect): void {
  if (expected.kind === 'put') {
    expect(actual.kind).toBe('put');
    if (actual.kind !== 'put') return;
    expect(Buffer.isBuffer(actual.value)).toBe(true);
    expect(actual.value.equals(expected.value), 'value bytes').toBe(true);
    expect({ ...actual, value: null }).toEqual({ ...expected, value: null });
  } else {
    expect(actual).toEqual(expected);
  }
}

function roundTrip(effect: Effect): Effect {
  const buf = encodeRecord(effect);
  const d = decodeRecordAt(buf, 0);
  if (!d.ok) throw new Error(`decode failed: ${d.reason}`);
  expect(d.size).toBe(buf.length);
  return d.effect;
}

/** Re-frames a header + payload with a correct checksum, so only the content is judged. */
function frame(seq: number, type: number, payload: Buffer): Buffer {
  const buf = Buffer.alloc(record_header_bytes + payload.length);
  buf.writeUInt32LE(payload.length, 0);
  buf.writeUInt32LE(seq % 0x1_0000_0000, 8);
  buf.writeUInt32LE(Math.floor(seq / 0x1_0000_0000), 12);
  buf[16] = type;
  payload.copy(buf, record_header_bytes);
  buf.writeUInt32LE(crc32(buf.subarray(8)), 4);
  return buf;
}

const putSample: Effect = {
  kind: 'put', seq: 42, key: 'k\x80\xff', value: Buffer.from('hello'), flags: 0xdeadbeef, expiresAtMs: 1_700_000_000_123, cas: 99,
};

describe('encodeRecord / decodeRecordAt round trip', () => {
  const cases: Array<[string, Effect]> = [
    ['put, small value', putSample],
    ['put, empty value, empty key', { kind: 'put', seq: 1, key: '', value: Buffer.alloc(0), flags: 0, expiresAtMs: 0, cas: 0 }],
    ['put, 1 MiB binary value', {
      kind: 'put', seq: 7, key: 'big', value: Buffer.from(Array.from({ length: 1024 * 1024 }, (_, i) => (i * 7919) & 0xff)),
      flags: 1, expiresAtMs: 0, cas: 12345,
    }],
    ['put, value with CR LF and NUL bytes', { kind: 'put', seq: 3, key: 'x', value: Buffer.from('a\r\nb\0c\r\n'), flags: 0, expiresAtMs: 0, cas: 1 }],
    ['put, latin1 key bytes 0x80-0xff', { kind: 'put', seq: 5, key: highBytesKey, value: Buffer.from([0xff, 0x00]), flags: 0, expiresAtMs: 0, cas: 2 }],
    ['put, every byte in the key', { kind: 'put', seq: 6, key: allBytesKey, value: Buffer.from('v'), flags: 0, expiresAtMs: 0, cas: 3 }],
    ['put, 2^53-1 in seq, expiry and cas, max flags', {
      kind: 'put', seq: max_u64_safe, key: 'edge', value: Buffer.from('v'), flags: 0xffff_ffff, expiresAtMs: max_u64_safe, cas: max_u64_safe,
    }],
    ['put, values around 2^32', { kind: 'put', seq: 2 ** 32, key: 'k', value: Buffer.alloc(1), flags: 0, expiresAtMs: 2 ** 32 - 1, cas: 2 ** 32 + 1 }],
    ['del', { kind: 'del', seq: 8, key: 'gone' }],
    ['del, latin1 high bytes', { kind: 'del', seq: 9, key: highBytesKey }],
    ['del, seq 2^53-1', { kind: 'del', seq: max_u64_safe, key: 'k' }],
    ['touch', { kind: 'touch', seq: 10, key: 't\xe9', expiresAtMs: 1_800_000_000_000 }],
    ['touch, expiry 2^53-1', { kind: 'touch', seq: 11, key: allBytesKey, expiresAtMs: max_u64_safe }],
    ['touch, expiry 0', { kind: 'touch', seq: 12, key: 'k', expiresAtMs: 0 }],
    ['flush', { kind: 'flush', seq: 13 }],
    ['flush, seq 2^53-1', { kind: 'flush', seq: max_u64_safe }],
    ['flushAt', { kind: 'flushAt', seq: 14, atMs: 1_900_000_000_000 }],
    ['flushAt 0 (cancel)', { kind: 'flushAt', seq: 15, atMs: 0 }],
    ['flushAt 2^53-1', { kind: 'flushAt', seq: 16, atMs: max_u64_safe }],
  ];

  it.each(cases)('%s', (_name, effect) => {
    expectSameEffect(roundTrip(effect), effect);
  });

  it('writes the documented header layout (little-endian length, crc, seq, type, logged-at time)', () => {
    const stamped = encodeRecord({ kind: 'flush', seq: 9 }, 1_795_000_000_123);
    expect(stamped.readBigUInt64LE(17)).toBe(1_795_000_000_123n);
    const decoded = decodeRecordAt(stamped, 0);
    expect(decoded.ok && decoded.loggedAtMs).toBe(1_795_000_000_123);
    const buf = encodeRecord({ kind: 'del', seq: 2 ** 40 + 5, key: 'abc' });
    expect(buf.length).toBe(record_header_bytes + 3);
    expect(buf.readUInt32LE(0)).toBe(3);
    expect(buf.readUInt32LE(4)).toBe(crc32(buf.subarray(8)));
    expect(buf.readBigUInt64LE(8)).toBe(2n ** 40n + 5n);
    expect(buf[16]).toBe(2);
    expect(buf.subarray(record_header_bytes).toString('latin1')).toBe('abc');

    const put = encodeRecord(putSample);
    expect(put[16]).toBe(1);
    expect(put.readUInt16LE(record_header_bytes)).toBe(3);
    expect(put.subarray(record_header_bytes + 2, record_header_bytes + 5).toString('latin1')).toBe('k\x80\xff');
    expect(put.readUInt32LE(record_header_bytes + 5)).toBe(0xdeadbeef);
    expect(put.readBigUInt64LE(record_header_bytes + 9)).toBe(1_700_000_000_123n);
    expect(put.readBigUInt64LE(record_header_bytes + 17)).toBe(99n);
    expect(put.subarray(record_header_bytes + 25).toString()).toBe('hello');

    expect(encodeRecord({ kind: 'touch', seq: 1, key: 'k', expiresAtMs: 5 })[16]).toBe(3);
    expect(encodeRecord({ kind: 'flush', seq: 1 }).length).toBe(record_header_bytes);
    expect(encodeRecord({ kind: 'flush', seq: 1 })[16]).toBe(4);
    expect(encodeRecord({ kind: 'flushAt', seq: 1, atMs: 1 })[16]).toBe(5);
  });

  it('decodes records back to back at their offsets', () => {
    const effects: Effect[] = [putSample, { kind: 'del', seq: 43, key: 'a' }, { kind: 'flush', seq: 44 }, { kind: 'touch', seq: 45, key: 'b', expiresAtMs: 1 }];
    const log = Buffer.concat(effects.map((e) => encodeRecord(e)));
    const out: Effect[] = [];
    let offset = 0;
    while (offset < log.length) {
      const d = decodeRecordAt(log, offset);
      if (!d.ok) throw new Error(d.reason);
      out.push(d.effect);
      offset += d.size;
    }
    expect(offset).toBe(log.length);
    expect(out).toEqual(effects);
  });

  it('a decoded value is a view of the input, and an engine that applies it keeps its own copy', () => {
    const buf = encodeRecord(putSample);
    const d = decodeRecordAt(buf, 0);
    if (!d.ok || d.effect.kind !== 'put') throw new Error('expected put');
    const engine = new Engine({ memoryLimitBytes: 1 << 20, itemSizeMaxBytes: 1 << 20, evictionsDisabled: false });
    engine.applyEffect(d.effect);
    buf.fill(0);
    expect(engine.peek(d.effect.key, 0)?.value.toString()).toBe('hello');
  });
});

const seqArb = fc.oneof(fc.constantFrom(0, 1, 2 ** 32 - 1, 2 ** 32, max_u64_safe), fc.maxSafeNat());
const latin1Arb = (maxLength: number) => fc.uint8Array({ maxLength }).map((b) => Buffer.from(b).toString('latin1'));
const effectArb: fc.Arbitrary<Effect> = fc.oneof(
  fc.record({
    kind: fc.constant('put' as const), seq: seqArb, key: latin1Arb(250),
    value: fc.uint8Array({ maxLength: 3000 }).map((b) => Buffer.from(b)),
    flags: fc.integer({ min: 0, max: 0xffff_ffff }), expiresAtMs: seqArb, cas: seqArb,
  }),
  fc.record({ kind: fc.constant('del' as const), seq: seqArb, key: latin1Arb(250) }),
  fc.record({ kind: fc.constant('touch' as const), seq: seqArb, key: latin1Arb(250), expiresAtMs: seqArb }),
  fc.record({ kind: fc.constant('flush' as const), seq: seqArb }),
  fc.record({ kind: fc.constant('flushAt' as const), seq: seqArb, atMs: seqArb }),
);

describe('encodeRecordInto (the writer encodes a batch into one buffer)', () => {
  it('writes each record at its offset, exactly recordBytes long, leaving the bytes around it alone; the checksum is zlib CRC-32', () => {
    fc.assert(fc.property(fc.array(effectArb, { minLength: 1, maxLength: 12 }), fc.nat(40), fc.integer({ min: 0, max: 255 }), (effects, lead, fill) => {
      const total = effects.reduce((t, e) => t + recordBytes(e), 0);
      const buf = Buffer.alloc(lead + total + 16, fill);
      let at = lead;
      for (const e of effects) {
        const end = encodeRecordInto(e, 1_700_000_000_123, buf, at);
        expect(end - at).toBe(recordBytes(e));
        expect(buf.readUInt32LE(at + 4)).toBe(crc32(buf.subarray(at + 8, end)));
        at = end;
      }
      expect(buf.subarray(0, lead).every((b) => b === fill)).toBe(true);
      expect(buf.subarray(at).every((b) => b === fill)).toBe(true);
      const decoded: Effect[] = [];
      for (let p = lead; p < at;) {
        const d = decodeRecordAt(buf.subarray(0, at), p);
        if (!d.ok) throw new Error(d.reason);
        expect(d.loggedAtMs).toBe(1_700_000_000_123);
        decoded.push(d.effect);
        p += d.size;
      }
      decoded.forEach((d, i) => expectSameEffect(d, effects[i]!));
    }), { numRuns: 300 });
  });
});

describe('round-trip property', () => {
  it('decode(encode(e)) = e for any effect', () => {
    fc.assert(fc.property(effectArb, (effect) => {
      expectSameEffect(roundTrip(effect), effect);
    }), { numRuns: 500 });
  });

  it('a sequence of records decodes in order from a concatenated log', () => {
    fc.assert(fc.property(fc.array(effectArb, { maxLength: 20 }), (effects) => {
      const log = Buffer.concat(effects.map((e) => encodeRecord(e)));
      const out: Effect[] = [];
      for (let offset = 0; offset < log.length;) {
        const d = decodeRecordAt(log, offset);
        if (!d.ok) return false;
        out.push(d.effect);
        offset += d.size;
      }
      expect(out).toEqual(effects);
      return true;
    }), { numRuns: 200 });
  });
});

describe('crc32Of', () => {
  it('is zlib crc32 of the range, for any bytes and range, short (JS) or long (zlib) (property)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2100 }), fc.nat(), fc.nat(), (bytes, a, b) => {
      const buf = Buffer.from(bytes);
      const start = buf.length === 0 ? 0 : a % (buf.length + 1);
      const end = start + (b % (buf.length - start + 1));
      expect(crc32Of(buf, start, end)).toBe(crc32(buf.subarray(start, end)));
    }), { numRuns: 1000 });
  });

  it('matches the CRC-32 check value and every length up to a few blocks', () => {
    expect(crc32Of(Buffer.from('123456789'), 0, 9)).toBe(0xcbf43926);
    const buf = Buffer.from(Array.from({ length: 40 }, (_, i) => (i * 97 + 13) & 0xff));
    for (let n = 0; n <= 40; n++) expect(crc32Of(buf, 40 - n, 40)).toBe(crc32(buf.subarray(40 - n)));
  });
});

describe('readRecordAt (replay without an Effect per record)', () => {
  it('for any effect at any offset: the fields and the key and value places give back the effect, and the size', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), effectArb, fc.uint8Array({ maxLength: 40 }), (before, effect, after) => {
      const record = encodeRecord(effect);
      const buf = Buffer.concat([Buffer.from(before), record, Buffer.from(after)]);
      const r = newRecordFields();
      expect(readRecordAt(buf, before.length, r)).toBeNull();
      expect(r.size).toBe(record.length);
      expect(r.seq).toBe(effect.seq);
      expectSameEffect(effectOf(buf, r), effect);
      if (effect.kind === 'put' || effect.kind === 'del' || effect.kind === 'touch') {
        expect(buf.toString('latin1', r.keyStart, r.keyEnd)).toBe(effect.key);
      }
      if (effect.kind === 'put') {
        expect(buf.subarray(r.valueStart, r.valueEnd).equals(effect.value)).toBe(true);
        expect([r.flags, r.expiresAtMs, r.cas]).toEqual([effect.flags, effect.expiresAtMs, effect.cas]);
      }
    }), { numRuns: 300 });
  });

  it('one fields object reused for records of every kind in turn reads each right', () => {
    const effects: Effect[] = [putSample, { kind: 'flushAt', seq: 43, atMs: 5 }, { kind: 'del', seq: 44, key: 'a' }, { kind: 'touch', seq: 45, key: 'bb', expiresAtMs: 7 }, { kind: 'flush', seq: 46 }, putSample];
    const log = Buffer.concat(effects.map((e) => encodeRecord(e)));
    const r = newRecordFields();
    const out: Effect[] = [];
    for (let offset = 0; offset < log.length; offset += r.size) {
      expect(readRecordAt(log, offset, r)).toBeNull();
      out.push(effectOf(log, r));
    }
    expect(out).toEqual(effects);
  });

  it('gives the reason decodeRecordAt gives for a damaged record', () => {
    const record = encodeRecord(putSample);
    const damaged = Buffer.from(record);
    damaged[record.length - 1]! ^= 1;
    const r = newRecordFields();
    expect(readRecordAt(damaged, 0, r)).toBe('checksum mismatch');
    expect(readRecordAt(record.subarray(0, 10), 0, r)).toBe('short header (10 bytes left)');
    expect(readRecordAt(frame(1, 9, Buffer.alloc(0)), 0, r)).toBe('malformed payload');
  });
});

describe('decodeRecordAt rejects damaged records', () => {
  const record = encodeRecord(putSample);

  it('a truncated header (every length below the header size)', () => {
    for (let n = 0; n < record_header_bytes; n++) {
      const d = decodeRecordAt(record.subarray(0, n), 0);
      expect(d.ok).toBe(false);
      if (!d.ok) expect(d.reason).toMatch(/short header/);
    }
    // ... also when the short remainder is at an offset inside a larger buffer
    const two = Buffer.concat([record, record.subarray(0, 10)]);
    const d = decodeRecordAt(two, record.length);
    expect(d).toEqual({ ok: false, reason: expect.stringMatching(/short header \(10 bytes left\)/) });
  });

  it('a payload cut short anywhere (length past the end of the file)', () => {
    for (let n = record_header_bytes; n < record.length; n++) {
      const d = decodeRecordAt(record.subarray(0, n), 0);
      expect(d.ok).toBe(false);
      if (!d.ok) expect(d.reason).toMatch(/past the end/);
    }
  });

  it('a length field larger than the file, checked before allocating', () => {
    const buf = Buffer.from(record);
    buf.writeUInt32LE(buf.length, 0); // header + this would need a header more
    const d = decodeRecordAt(buf, 0);
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.reason).toMatch(/length \d+ runs past the end/);
  });

  it('a length over record_payload_max_bytes', () => {
    for (const length of [record_payload_max_bytes + 1, 0xffff_ffff]) {
      const buf = Buffer.from(record);
      buf.writeUInt32LE(length, 0);
      const d = decodeRecordAt(buf, 0);
      expect(d.ok).toBe(false);
      if (!d.ok) expect(d.reason).toMatch(/larger than any record/);
    }
  });

  it('a flipped bit anywhere in a record (checksum)', () => {
    for (const effect of [putSample, { kind: 'touch', seq: 9, key: 'k\xff', expiresAtMs: 77 } as Effect, { kind: 'flush', seq: 3 } as Effect]) {
      const good = encodeRecord(effect);
      for (let bit = 0; bit < good.length * 8; bit++) {
        const bad = Buffer.from(good);
        bad[bit >> 3]! ^= 1 << (bit & 7);
        const d = decodeRecordAt(bad, 0);
        expect(d.ok, `bit ${bit} of a ${effect.kind} record`).toBe(false);
      }
    }
  });

  it('a flipped bit in the payload or seq is reported as a checksum mismatch', () => {
    const bad = Buffer.from(record);
    bad[record.length - 1]! ^= 0x10;
    expect(decodeRecordAt(bad, 0)).toEqual({ ok: false, reason: 'checksum mismatch' });
    const bad2 = Buffer.from(record);
    bad2[9]! ^= 0x01;
    expect(decodeRecordAt(bad2, 0)).toEqual({ ok: false, reason: 'checksum mismatch' });
  });

  it('an unknown type, even with a valid checksum', () => {
    for (const type of [0, 6, 7, 0x80, 0xff]) {
      const d = decodeRecordAt(frame(1, type, Buffer.from('payload')), 0);
      expect(d.ok, `type ${type}`).toBe(false);
      if (!d.ok) expect(d.reason).toBe('malformed payload');
    }
  });

  it('payloads of the wrong shape for their type, with a valid checksum', () => {
    const malformed: Array<[number, Buffer]> = [
      [1, Buffer.alloc(21)], // put shorter than its fixed fields
      [1, (() => { const b = Buffer.alloc(30); b.writeUInt16LE(20, 0); return b; })()], // key runs into the fields
      [3, Buffer.alloc(7)], // touch without a full expiry
      [4, Buffer.alloc(1)], // flush with a payload
      [5, Buffer.alloc(7)], // flushAt short
      [5, Buffer.alloc(9)], // flushAt long
    ];
    for (const [type, payload] of malformed) {
      const d = decodeRecordAt(frame(1, type, payload), 0);
      expect(d.ok, `type ${type}, ${payload.length} bytes`).toBe(false);
    }
  });

  it('an all-zero header is never a record', () => {
    for (const n of [17, 64, 4096]) expect(decodeRecordAt(Buffer.alloc(n), 0).ok).toBe(false);
  });
});

describe('decodeRecordAt on arbitrary bytes', () => {
  it('never throws on random bytes at any offset', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(320), (bytes, offset) => {
      const d = decodeRecordAt(Buffer.from(bytes), offset);
      expect(typeof d.ok).toBe('boolean');
      expect(() => looksLikeRecordAfter(Buffer.from(bytes), offset, 0)).not.toThrow();
    }), { numRuns: 2000 });
  });

  it('never throws on a mutated valid log', () => {
    fc.assert(fc.property(
      fc.array(effectArb, { minLength: 1, maxLength: 5 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
      fc.nat(),
      (effects, edits, cut) => {
        const log = Buffer.concat(effects.map((e) => encodeRecord(e)));
        for (const [pos, byte] of edits) log[pos % log.length] = byte;
        const buf = log.subarray(0, log.length - (cut % (log.length + 1)));
        for (let offset = 0; offset <= buf.length; offset++) decodeRecordAt(buf, offset);
      },
    ), { numRuns: 200 });
  });

  it('a checksummed record of any type and payload either fails or re-encodes to the same bytes', () => {
    // The checksum is valid here, so this reaches the payload decoder with
    // arbitrary content: whatever it accepts must be a faithful effect.
    fc.assert(fc.property(
      seqArb, fc.integer({ min: 0, max: 8 }), fc.uint8Array({ maxLength: 64 }), fc.boolean(),
      (seq, type, payloadBytes, bigFields) => {
        const payload = Buffer.from(payloadBytes);
        if (bigFields && payload.length >= 8) payload.fill(0xff, 0, 8);
        if (bigFields && type === 1 && payload.length >= 22) { payload.writeUInt16LE(0, 0); payload.fill(0xff, 6, 22); }
        const buf = frame(seq, type, payload);
        const d = decodeRecordAt(buf, 0);
        if (!d.ok) return;
        expect(d.size).toBe(buf.length);
        expect(encodeRecord(d.effect).equals(buf)).toBe(true);
      },
    ), { numRuns: 3000 });
  });

  it('rejects 64-bit fields that do not fit a JS number exactly instead of rounding them', () => {
    const expiry = Buffer.alloc(8 + 1);
    expiry.writeBigUInt64LE(2n ** 64n - 1n, 0);
    expect(decodeRecordAt(frame(1, 3, expiry), 0).ok).toBe(false);
    const atMs = Buffer.alloc(8);
    atMs.writeBigUInt64LE(2n ** 53n, 0);
    expect(decodeRecordAt(frame(1, 5, atMs), 0).ok).toBe(false);
    const seqTooBig = frame(1, 4, Buffer.alloc(0));
    seqTooBig.writeBigUInt64LE(2n ** 63n, 8);
    seqTooBig.writeUInt32LE(crc32(seqTooBig.subarray(8)), 4);
    expect(decodeRecordAt(seqTooBig, 0).ok).toBe(false);
    // 2^53 - 1 is still fine
    atMs.writeBigUInt64LE(2n ** 53n - 1n, 0);
    expect(decodeRecordAt(frame(1, 5, atMs), 0)).toMatchObject({ ok: true, effect: { kind: 'flushAt', atMs: max_u64_safe } });
  });
});
