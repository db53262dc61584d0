// Runs meta requests (meta.ts) on the engine and words their replies exactly
// as memcached 1.6.18 does (proto_text.c process_mget/mset/mdelete/
// marithmetic/meta_command, _finalize_mset).
//
// - Reply flags come in request order: mg/ma walk the flag tokens once,
//   acting as they go, so `t` before `T` shows the old TTL and `t` after it
//   the new one, an `N` on a created item sets its TTL where it stands, and
//   an overlong opaque answers an error after what came before it took effect.
//   memcached's W/X/Z tokens follow the other flags (Z, then X, then W).
// - `q` leaves out only the nominal reply: mg's EN, ms's HD, md's HD, ma's HD
//   or VA (but not the HD of an item ma just created); errors and every other
//   code are always sent. `mn` needs nothing special: the connection writes
//   all finished replies after each read, so MN arrives after them.
// - Every request ends in one commit carrying the highest WAL sequence its
//   reply reflects (a miss reflects the last removal), so the connection
//   holds the reply until that is durable.
// - A key goes back as sent, or base64 with a trailing ` b` for an item
//   stored under a base64 key. Deliberate deviation: a key holding a byte no
//   text key can hold (space, newline, NUL) is also sent base64 with ` b`.
//   memcached would write it raw (for an item that lost its base64 mark: made
//   by `mg N`, or an append) and break the reply's framing; here the mark is
//   also lost on restart, being memory-only like memcached's it_flags.

import { expiresAtFromExptime, type Engine } from '../engine/engine.js';
import type { DeleteResult, ItemMeta, MetaItemView } from '../engine/types.js';
import { encodeBase64Key, isOverlongOpaque, opaque_too_long, type MetaRequest } from './meta.js';
import type { ReplySink, ServerContext } from './protocol.js';

/** Whether the request may write to the WAL (and so needs admission). */
export function isMetaMutation(r: MetaRequest): boolean {
  switch (r.command) {
    case 'mg': return r.ttl !== undefined || r.vivifyTtl !== undefined;
    case 'me': return false;
    default: return true;
  }
}

export function executeMeta(ctx: ServerContext, r: MetaRequest, out: ReplySink): void {
  const engine = ctx.backend.engine;
  const now = ctx.backend.now();
  switch (r.command) {
    case 'mg': return metaGet(engine, r, now, out);
    case 'ms': return metaSet(engine, r, now, out);
    case 'md': return metaDelete(engine, r, now, out);
    case 'ma': return metaArithmetic(engine, r, now, out);
    case 'me': return metaDebug(engine, r, now, out);
  }
}

// ---- mg ---------------------------------------------------------------------

function metaGet(engine: Engine, r: MetaRequest, now: number, out: ReplySink): void {
  // A created item starts with no expiry (memcached's item_alloc(..., 0, ...)) until a T or N sets one.
  const vivifyAtMs = r.vivifyTtl === undefined ? undefined : expirySetByFlags(r, true, now) ?? 0;
  const got = engine.metaGet(r.key, now, r.returnValue, vivifyAtMs);
  if (!got) return nominalOrError(out, missLine('EN', r), r.quiet, engine.removalSeq);
  const { item, created } = got;
  const walk = walkGetFlags(r, item, created, now);
  const seq = engine.finishMetaGet(r.key, now, {
    expiresAtMs: created ? undefined : walk.expiresAtMs,
    winToken: walk.won && walk.error === null,
    // memcached bumps a locked item at the end, which an error skips.
    bump: !r.noBump && !(walk.error !== null && r.locked),
    touched: walk.touched,
  });
  if (walk.error !== null) return error(out, walk.error, seq);
  const reply = out.reply;
  reply.addText(`${r.returnValue ? `VA ${item.valueLength}` : 'HD'}${walk.text}\r\n`);
  if (r.returnValue) {
    reply.addValue(item.value!);
    reply.addText('\r\n');
  }
  out.commit(seq);
}

interface GetWalk {
  text: string;
  /** The expiry after the flags (T, or N on a created item) up to any error. */
  expiresAtMs: number;
  won: boolean;
  touched: boolean;
  error: string | null;
}

/** mg's reply flags for a hit, in request order, and what they decide (memcached's loop over the tokens). */
function walkGetFlags(r: MetaRequest, item: MetaItemView, created: boolean, now: number): GetWalk {
  const walk: GetWalk = { text: '', expiresAtMs: created ? 0 : item.expiresAtMs, won: false, touched: false, error: null };
  for (const tok of r.tokens) {
    if (isOverlongOpaque(tok)) {
      walk.error = opaque_too_long;
      return walk;
    }
    walk.expiresAtMs = expirySetBy(tok, r, created, now) ?? walk.expiresAtMs;
    switch (tok[0]) {
      case 'T': walk.touched = true; break;
      case 'N': walk.won ||= created; break;
      case 'R': walk.won ||= !item.tokenSent && !created && recacheWins(walk.expiresAtMs, r.recacheTtl!, now); break;
      case 's': walk.text += ` s${item.valueLength}`; break;
      case 't': walk.text += ` t${ttlText(walk.expiresAtMs, now)}`; break;
      case 'c': walk.text += ` c${item.cas}`; break;
      case 'f': walk.text += ` f${item.flags}`; break;
      case 'l': walk.text += ` l${idleSeconds(item, now)}`; break;
      case 'h': walk.text += ` h${item.fetched ? 1 : 0}`; break;
      case 'O': walk.text += ` ${tok}`; break;
      case 'k': walk.text += keyText(item.key, item.keyBinary); break;
    }
  }
  // memcached's order: Z, X, W. W never comes with Z: a token goes out once until md I re-opens it.
  if (item.tokenSent) walk.text += ' Z';
  if (item.stale) {
    walk.text += ' X';
    walk.won ||= !item.tokenSent;
  }
  if (walk.won) walk.text += ' W';
  return walk;
}

/** R: the item's remaining TTL is below the token's (memcached: exptime < realtime(token)). */
function recacheWins(expiresAtMs: number, recacheTtl: number, now: number): boolean {
  const recacheAtMs = expiresAtFromExptime(recacheTtl, now);
  return expiresAtMs !== 0 && recacheAtMs !== 0 && secondsUntil(expiresAtMs, now) < secondsUntil(recacheAtMs, now);
}

// ---- ms ---------------------------------------------------------------------

const store_codes = { STORED: 'HD', NOT_STORED: 'NS', EXISTS: 'EX', NOT_FOUND: 'NF' } as const;

function metaSet(engine: Engine, r: MetaRequest, now: number, out: ReplySink): void {
  const result = engine.store(r.storeMode, r.key, r.clientFlags, r.ttl ?? 0, r.value, r.cas ?? 0n, now, { invalidate: r.invalidate, keyBinary: r.keyBinary });
  switch (result.status) {
    case 'TOO_LARGE': return error(out, 'SERVER_ERROR object too large for cache', result.seq);
    case 'NO_MEMORY': return error(out, 'SERVER_ERROR out of memory storing object', result.seq);
    default: {
      // c: the new CAS, 0 when nothing was stored.
      const cas = result.status === 'STORED' ? result.cas : 0;
      let text: string = store_codes[result.status];
      for (const tok of r.tokens) text += tok[0] === 'c' ? ` c${cas}` : echoText(tok, r);
      return nominalOrError(out, { text, error: null }, r.quiet && result.status === 'STORED', result.seq);
    }
  }
}

// ---- md ---------------------------------------------------------------------

const delete_codes = { DELETED: 'HD', NOT_FOUND: 'NF', EXISTS: 'EX' } as const;

function metaDelete(engine: Engine, r: MetaRequest, now: number, out: ReplySink): void {
  let result: DeleteResult;
  if (r.cas === 0n) result = casZeroMismatch(engine, r.key, now);
  else if (r.invalidate) result = engine.invalidate(r.key, now, r.cas ?? 0n, r.ttl === undefined ? undefined : expiresAtFromExptime(r.ttl, now));
  else result = engine.delete(r.key, now, r.cas ?? 0n);
  let text: string = delete_codes[result.status];
  for (const tok of r.tokens) text += echoText(tok, r);
  nominalOrError(out, { text, error: null }, r.quiet && result.status === 'DELETED', result.seq);
}

/**
 * `md C0`: memcached compares, and no item has CAS 0, so an existing item is
 * EX and nothing changes. The engine reads a CAS of 0 as "none", so look only.
 */
function casZeroMismatch(engine: Engine, key: string, now: number): DeleteResult {
  const item = engine.inspect(key, now);
  return item ? { status: 'EXISTS', seq: item.seq } : { status: 'NOT_FOUND', seq: engine.removalSeq };
}

// ---- ma ---------------------------------------------------------------------

function metaArithmetic(engine: Engine, r: MetaRequest, now: number, out: ReplySink): void {
  const result = engine.metaDelta(r.key, r.incr, r.delta, now, {
    casUnique: r.cas ?? 0n,
    expiresAtMs: expirySetByFlags(r, false, now),
    vivify: r.vivifyTtl === undefined ? undefined : { initial: r.initial, expiresAtMs: expirySetByFlags(r, true, now) ?? 0 },
  });
  switch (result.status) {
    case 'NON_NUMERIC': return error(out, 'CLIENT_ERROR cannot increment or decrement non-numeric value', result.seq);
    case 'NO_MEMORY': return error(out, 'SERVER_ERROR out of memory', result.seq);
    case 'NO_MEMORY_CREATING': return error(out, 'SERVER_ERROR Out of memory allocating new item', result.seq);
    case 'NOT_FOUND': return nominalOrError(out, missLine('NF', r), false, result.seq);
    case 'EXISTS': return nominalOrError(out, missLine('EX', r), false, result.seq);
    case 'VALUE': break;
  }
  const digits = result.value.toString();
  let expiresAtMs = result.created ? 0 : result.expiresAtMs;
  let text = r.returnValue ? `VA ${digits.length}` : 'HD';
  for (const tok of r.tokens) {
    if (isOverlongOpaque(tok)) return error(out, opaque_too_long, result.seq);
    expiresAtMs = expirySetBy(tok, r, result.created, now) ?? expiresAtMs;
    switch (tok[0]) {
      case 'c': text += ` c${result.cas}`; break;
      case 't': text += ` t${ttlText(expiresAtMs, now)}`; break;
      default: text += echoText(tok, r);
    }
  }
  if (r.returnValue) text += `\r\n${digits}`;
  nominalOrError(out, { text, error: null }, r.quiet && !result.created, result.seq);
}

// ---- me ---------------------------------------------------------------------

function metaDebug(engine: Engine, r: MetaRequest, now: number, out: ReplySink): void {
  const item = engine.inspect(r.key, now);
  if (!item) return nominalOrError(out, { text: 'EN', error: null }, false, engine.removalSeq);
  const key = item.keyBinary || !isTextKey(item.key) ? encodeBase64Key(item.key) : item.key;
  // memcached prints exp as current_time - exptime: minus the TTL left.
  const exp = item.expiresAtMs === 0 ? -1 : -secondsUntil(item.expiresAtMs, now);
  const text = `ME ${key} exp=${exp} la=${idleSeconds(item, now)} cas=${item.cas} ` +
    `fetch=${item.fetched ? 'yes' : 'no'} cls=${item.slabClass} size=${item.totalBytes}`;
  nominalOrError(out, { text, error: null }, false, item.seq);
}

// ---- shared -----------------------------------------------------------------

interface Line { text: string; error: string | null }

/** A reply line (left out when `skip`), or the error found while building it (always sent). */
function nominalOrError(out: ReplySink, line: Line, skip: boolean, seq: number): void {
  if (line.error !== null) return error(out, line.error, seq);
  if (!skip) out.reply.addText(`${line.text}\r\n`);
  out.commit(seq);
}

function error(out: ReplySink, message: string, seq: number): void {
  out.reply.addText(`${message}\r\n`);
  out.commit(seq);
}

/** A reply without an item (mg's EN, ma's NF/EX): the code, then O and k echoed. */
function missLine(code: string, r: MetaRequest): Line {
  let text = code;
  for (const tok of r.tokens) {
    if (isOverlongOpaque(tok)) return { text, error: opaque_too_long };
    text += echoText(tok, r);
  }
  return { text, error: null };
}

/** O and k, echoed as every meta reply does: the opaque as sent, the key as the request gave it. */
function echoText(tok: string, r: MetaRequest): string {
  switch (tok[0]) {
    case 'O': return ` ${tok}`;
    case 'k': return keyText(r.key, r.keyBinary);
    default: return '';
  }
}

function keyText(key: string, binary: boolean): string {
  return binary || !isTextKey(key) ? ` k${encodeBase64Key(key)} b` : ` k${key}`;
}

/** Bytes a key read from a text line cannot hold: its separators. */
function isTextKey(key: string): boolean {
  return !/[\x00\n ]/.test(key);
}

/** The expiry a flag sets: T's; N's on an item the request created; undefined for other flags. */
function expirySetBy(tok: string, r: MetaRequest, created: boolean, now: number): number | undefined {
  if (tok[0] === 'T') return expiresAtFromExptime(r.ttl!, now);
  if (tok[0] === 'N' && created) return expiresAtFromExptime(r.vivifyTtl!, now);
  return undefined;
}

/**
 * The expiry the flags leave, taken before acting so it can be applied in one
 * logged change: the last T (or N, on a created item) before the first
 * overlong opaque, where memcached stops with an error; undefined if none.
 */
function expirySetByFlags(r: MetaRequest, created: boolean, now: number): number | undefined {
  let expiresAtMs: number | undefined;
  for (const tok of r.tokens) {
    if (isOverlongOpaque(tok)) break;
    expiresAtMs = expirySetBy(tok, r, created, now) ?? expiresAtMs;
  }
  return expiresAtMs;
}

/** Whole seconds until atMs, rounded up: a TTL of N set now shows N. */
function secondsUntil(atMs: number, now: number): number {
  return Math.ceil((atMs - now) / 1000);
}

/** Seconds since the item was last accessed (a recovered one: since the server started; see EngineOptions.startedAtMs). */
function idleSeconds(item: MetaItemView, now: number): number {
  return Math.max(0, Math.floor((now - item.lastAccessMs) / 1000));
}

/** `t`: -1 for no expiry, else the seconds left as memcached's unsigned 32-bit subtraction. */
function ttlText(expiresAtMs: number, now: number): string {
  return expiresAtMs === 0 ? '-1' : String(secondsUntil(expiresAtMs, now) >>> 0);
}
