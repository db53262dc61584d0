// safeStrtol / safeStrtoul / safeStrtoull must give memcached's util.c answers
// on an LP64 machine: strtol/strtoul/strtoull (base 10, leading whitespace and
// a sign allowed, ERANGE past 64 bits), then "ends at whitespace or NUL",
// then the 32-bit variants store the 64-bit result in an int32_t/uint32_t.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { safeStrtol, safeStrtoul, safeStrtoull } from '../../src/engine/cnumbers.js';

const buf = (s: string): Buffer => Buffer.from(s, 'latin1');

// [input, safe_strtol (int32_t), safe_strtoul (uint32_t), safe_strtoull (uint64_t)]; null = returns false
const table: Array<[string, number | null, number | null, bigint | null]> = [
  ['0', 0, 0, 0n],
  ['-0', 0, 0, 0n],
  ['+5', 5, 5, 5n],
  ['-1', -1, null, null], // strtoull("-1") = 2^64-1, negative as signed, has '-': rejected
  ['-5', -5, null, null],
  ['2147483647', 2147483647, 2147483647, 2147483647n],
  ['2147483648', -2147483648, 2147483648, 2147483648n], // long fits, int32_t cast wraps
  ['-2147483648', -2147483648, null, null],
  ['-2147483649', 2147483647, null, null],
  ['3000000000', -1294967296, 3000000000, 3000000000n],
  ['4294967295', -1, 4294967295, 4294967295n],
  ['4294967296', 0, 0, 4294967296n], // 32-bit variants truncate like a C cast
  ['4294967297', 1, 1, 4294967297n],
  ['9223372036854775807', -1, 4294967295, 9223372036854775807n],
  ['9223372036854775808', null, 0, 9223372036854775808n], // strtol ERANGE; strtoull fine (no '-')
  ['-9223372036854775808', 0, null, null], // LONG_MIN fits strtol; strtoull gives 2^63 with '-'
  ['-9223372036854775809', null, 4294967295, 9223372036854775807n], // strtoull: -(2^63+1) mod 2^64 < 2^63: accepted
  ['-18446744073709551615', null, 1, 1n], // the classic strtoull quirk: negation modulo 2^64
  ['18446744073709551615', null, 4294967295, 18446744073709551615n],
  ['18446744073709551614', null, 4294967294, 18446744073709551614n],
  ['18446744073709551616', null, null, null], // ERANGE everywhere
  ['99999999999999999999999', null, null, null],
  ['12abc', null, null, null],
  ['0x10', null, null, null],
  ['1.5', null, null, null],
  [' 12', 12, 12, 12n],
  ['\t\n\v\f\r12', 12, 12, 12n],
  ['12 ', 12, 12, 12n],
  ['12\r\n', 12, 12, 12n],
  ['1 2', 1, 1, 1n], // endptr at a space is accepted, whatever follows
  ['12\0abc', 12, 12, 12n], // a C string ends at NUL
  ['00012', 12, 12, 12n],
  ['123456789', 123456789, 123456789, 123456789n],
  ['1234567890', 1234567890, 1234567890, 1234567890n],
  ['', null, null, null],
  [' ', null, null, null],
  ['-', null, null, null],
  ['+', null, null, null],
  ['+-1', null, null, null],
  ['- 1', null, null, null],
  ['\0' + '12', null, null, null],
  ['\xa05', null, null, null], // 0xA0 is not a C-locale space
  ['abc', null, null, null],
];

describe('safeStrtol / safeStrtoul / safeStrtoull (memcached util.c, LP64)', () => {
  it.each(table)('%j -> strtol %s, strtoul %s, strtoull %s', (input, l, ul, ull) => {
    expect(safeStrtol(buf(input))).toBe(l);
    expect(safeStrtoul(buf(input))).toBe(ul);
    expect(safeStrtoull(buf(input))).toBe(ull);
  });

  it('parses only the [start, end) range of the buffer', () => {
    const b = buf('xx12yy 4294967296 -1');
    expect(safeStrtoul(b, 2, 4)).toBe(12);
    expect(safeStrtol(b, 2, 4)).toBe(12);
    expect(safeStrtoull(b, 2, 4)).toBe(12n);
    expect(safeStrtoul(b, 2, 5)).toBeNull(); // "12y"
    expect(safeStrtoul(b, 7, 17)).toBe(0);
    expect(safeStrtoull(b, 7, 17)).toBe(4294967296n);
    expect(safeStrtol(b, 18, 20)).toBe(-1);
    expect(safeStrtoull(b, 18, 20)).toBeNull();
    expect(safeStrtoul(b, 4, 4)).toBeNull(); // empty range
  });

  it('accepts the results as plain numbers (no -0, no fractions)', () => {
    expect(Object.is(safeStrtol(buf('-0')), 0)).toBe(true);
    expect(Object.is(safeStrtoul(buf('-0')), 0)).toBe(true);
  });

  // An independent reference, written from the C definitions, over random strings
  // made of the characters that matter.
  const U64 = 1n << 64n;
  const cSpace = '[ \\t\\n\\v\\f\\r]';
  const shape = new RegExp(`^${cSpace}*([+-]?)([0-9]+)([\\s\\S]*)$`);
  function refScan(s: string): { cstr: string; neg: boolean; mag: bigint } | null {
    const nul = s.indexOf('\0');
    const cstr = nul < 0 ? s : s.slice(0, nul);
    const m = shape.exec(cstr);
    if (!m) return null;
    if (m[3] !== '' && !new RegExp(`^${cSpace}`).test(m[3]!)) return null;
    return { cstr, neg: m[1] === '-', mag: BigInt(m[2]!) };
  }
  function refUll(s: string): bigint | null {
    const r = refScan(s);
    if (!r || r.mag >= U64) return null;
    const v = r.neg ? (U64 - r.mag) % U64 : r.mag;
    if (v >= 1n << 63n && r.cstr.includes('-')) return null;
    return v;
  }
  function refL(s: string): number | null {
    const r = refScan(s);
    if (!r) return null;
    const v = r.neg ? -r.mag : r.mag;
    if (v >= 1n << 63n || v < -(1n << 63n)) return null;
    return Number(BigInt.asIntN(32, v));
  }
  function refUl(s: string): number | null {
    const v = refUll(s);
    return v === null ? null : Number(v % (1n << 32n));
  }

  const edgeDigits = fc.constantFrom(
    '0', '1', '2147483647', '2147483648', '4294967295', '4294967296',
    '9223372036854775807', '9223372036854775808', '18446744073709551615', '18446744073709551616',
  );
  const piece = fc.oneof(
    edgeDigits,
    fc.string({ unit: fc.constantFrom('0', '1', '9', '+', '-', ' ', '\t', '\r', 'x', '\0'), maxLength: 6 }),
    fc.stringMatching(/^[0-9]{1,22}$/),
  );
  const input = fc.array(piece, { maxLength: 4 }).map((parts) => parts.join(''));

  it('agrees with a reference written from the C definitions on random inputs', () => {
    fc.assert(
      fc.property(input, (s) => {
        const b = buf(s);
        expect(safeStrtoull(b)).toBe(refUll(s));
        expect(safeStrtoul(b)).toBe(refUl(s));
        expect(safeStrtol(b)).toBe(refL(s));
      }),
      { numRuns: 3000 },
    );
  });
});
