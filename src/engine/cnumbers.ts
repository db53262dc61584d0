// C number parsing as memcached does it (util.c safe_strtol/strtoul/strtoull on
// an LP64 machine), so edge inputs get memcached's answers: leading
// whitespace and a sign are accepted, trailing garbage is not (trailing
// whitespace is), out-of-range 64-bit values fail, and the 32-bit variants
// silently truncate a 64-bit result, exactly as memcached stores them.
//
// Input is a byte range of a Buffer; nothing here allocates on the fast path.

const U64_MAX = (1n << 64n) - 1n;
const I64_MAX = (1n << 63n) - 1n;
const I64_MIN = -(1n << 63n);

function isCSpace(b: number): boolean {
  return b === 0x20 || (b >= 0x09 && b <= 0x0d);
}

interface Scanned { negative: boolean; magnitude: bigint; end: number }

/** Scans [ws][sign]digits; null when there are no digits. */
function scanDecimal(buf: Uint8Array, start: number, end: number): Scanned | null {
  let i = start;
  while (i < end && isCSpace(buf[i]!)) i++;
  let negative = false;
  if (i < end && (buf[i] === 0x2b || buf[i] === 0x2d)) {
    negative = buf[i] === 0x2d;
    i++;
  }
  const digitsStart = i;
  let small = 0;
  while (i < end && buf[i]! >= 0x30 && buf[i]! <= 0x39 && i - digitsStart < 15) {
    small = small * 10 + (buf[i]! - 0x30);
    i++;
  }
  let magnitude = BigInt(small);
  while (i < end && buf[i]! >= 0x30 && buf[i]! <= 0x39) {
    magnitude = magnitude * 10n + BigInt(buf[i]! - 0x30);
    i++;
  }
  if (i === digitsStart) return null;
  return { negative, magnitude, end: i };
}

/** memcached accepts the number only if it ends the (C) string or is followed by whitespace. */
function endsCleanly(buf: Uint8Array, pos: number, end: number): boolean {
  return pos === end || buf[pos] === 0 || isCSpace(buf[pos]!);
}

/** strchr(str, '-'): the C string stops at a NUL. */
function hasMinus(buf: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end && buf[i] !== 0; i++) if (buf[i] === 0x2d) return true;
  return false;
}

/** strtoull semantics: a '-' negates modulo 2^64; magnitude over 2^64-1 is ERANGE. */
function strtoull(buf: Uint8Array, start: number, end: number): bigint | null {
  const s = scanDecimal(buf, start, end);
  if (!s || s.magnitude > U64_MAX || !endsCleanly(buf, s.end, end)) return null;
  return s.negative ? (U64_MAX + 1n - s.magnitude) & U64_MAX : s.magnitude;
}

/** safe_strtoull: 64-bit unsigned; rejects a '-' that produced a value >= 2^63. */
export function safeStrtoull(buf: Uint8Array, start = 0, end = buf.length): bigint | null {
  const v = strtoull(buf, start, end);
  if (v === null) return null;
  if (v > I64_MAX && hasMinus(buf, start, end)) return null;
  return v;
}

/** safe_strtoul: unsigned long (64-bit) parsed, then stored in a uint32_t. */
export function safeStrtoul(buf: Uint8Array, start = 0, end = buf.length): number | null {
  const fast = fastNonNegativeInt(buf, start, end);
  if (fast !== -1) return fast;
  const v = safeStrtoull(buf, start, end);
  return v === null ? null : Number(v & 0xffffffffn);
}

/** safe_strtol: long (64-bit) parsed with ERANGE, then stored in an int32_t. */
export function safeStrtol(buf: Uint8Array, start = 0, end = buf.length): number | null {
  const fast = fastNonNegativeInt(buf, start, end);
  if (fast !== -1) return fast | 0;
  const s = scanDecimal(buf, start, end);
  if (!s || !endsCleanly(buf, s.end, end)) return null;
  const v = s.negative ? -s.magnitude : s.magnitude;
  if (v > I64_MAX || v < I64_MIN) return null;
  return Number(BigInt.asIntN(32, v));
}

/** Plain digits below 2^31, the common case, without BigInt; -1 when not that shape. */
function fastNonNegativeInt(buf: Uint8Array, start: number, end: number): number {
  const len = end - start;
  if (len === 0 || len > 9) return -1;
  let v = 0;
  for (let i = start; i < end; i++) {
    const d = buf[i]! - 0x30;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

export const u64_max = U64_MAX;
