// ASCII authentication credentials (-Y/--auth-file), as memcached's
// authfile.c: a file of `user:password` lines, checked against the
// `user password` a client sends as the data of a `set` (auth-gate.ts).
//
// File format (memcached's authfile_load): each line is a user name, a ':',
// and a password running to the end of the line (a '\r' before the '\n' is
// dropped); the first ':' splits, so a password may hold ':' and spaces. A
// line without a ':' (a blank line too) makes the file malformed. Unlike
// memcached, which silently keeps only the first 8 entries and mangles lines
// over 255 bytes, every entry counts and an overlong line is an error.
//
// Invariants:
// - a check takes the same time whichever part (user or password) is wrong
//   and however many bytes of it are right: every entry is compared, through
//   SHA-256 digests (fixed length), with crypto.timingSafeEqual, and the
//   results are combined without short-circuiting;
// - the credentials are never logged or echoed.

import { createHash, timingSafeEqual } from 'node:crypto';

/** memcached reads the file with fgets into 256-byte pieces: longer lines cannot work there. */
export const auth_line_length_max = 255;

export interface AuthEntry { user: Buffer; password: Buffer }

export type AuthFileParse =
  | { ok: true; entries: AuthEntry[] }
  | { ok: false; line: number; reason: string };

/** Parses an auth file's bytes; a malformed file names its first bad line (1-based). */
export function parseAuthFile(text: Buffer): AuthFileParse {
  const entries: AuthEntry[] = [];
  let start = 0;
  for (let line = 1; start < text.length; line++) {
    const nl = text.indexOf(0x0a, start);
    const end = nl < 0 ? text.length : nl;
    const parsed = parseEntry(text.subarray(start, end));
    if (typeof parsed === 'string') return { ok: false, line, reason: parsed };
    entries.push(parsed);
    start = end + 1;
  }
  return { ok: true, entries };
}

function parseEntry(line: Buffer): AuthEntry | string {
  if (line.length > auth_line_length_max) return `longer than ${auth_line_length_max} bytes`;
  const colon = line.indexOf(0x3a);
  const nul = line.indexOf(0);
  if (colon < 0 || (nul >= 0 && nul < colon)) return "not 'user:password'";
  let end = colon + 1;
  while (end < line.length && line[end] !== 0x0d && line[end] !== 0) end++;
  return { user: Buffer.from(line.subarray(0, colon)), password: Buffer.from(line.subarray(colon + 1, end)) };
}

const digest = (bytes: Buffer): Buffer => createHash('sha256').update(bytes).digest();

interface DigestEntry { user: Buffer; password: Buffer }

/** The loaded credentials, with memcached's auth_cmds / auth_errors counters. */
export class Credentials {
  private entries: DigestEntry[] = [];
  /** Logins tried (memcached's auth_cmds). */
  attempts = 0;
  /** Logins refused (memcached's auth_errors). */
  failures = 0;

  /** `file` is only shown (stats settings' auth_enabled_ascii). */
  constructor(readonly file: string, entries: AuthEntry[]) {
    this.replace(entries);
  }

  /** Swaps in a reloaded file's entries (SIGHUP, as memcached). */
  replace(entries: AuthEntry[]): void {
    this.entries = entries.map((e) => ({ user: digest(e.user), password: digest(e.password) }));
  }

  get size(): number { return this.entries.length; }

  /** Whether some entry has exactly this user and password; counts the attempt. */
  check(user: Buffer, password: Buffer): boolean {
    const u = digest(user);
    const p = digest(password);
    let match = 0;
    for (const e of this.entries) match |= Number(timingSafeEqual(u, e.user)) & Number(timingSafeEqual(p, e.password));
    this.attempts++;
    if (match === 0) this.failures++;
    return match === 1;
  }

  resetCounters(): void {
    this.attempts = 0;
    this.failures = 0;
  }
}
