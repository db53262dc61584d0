// Admin commands of the text protocol, answered in memcached 1.6.18's words
// (proto_text.c process_lru_crawler_command / process_shutdown_command,
// crawler.c):
//
// - `lru_crawler metadump <all|hash|ids>`: one line per live item,
//   `key=<uri-encoded> exp=<unix s|-1> la=<unix s> cas=<n> fetch=<yes|no>
//   cls=<id> size=<bytes>` ending in "\n" (not "\r\n", as memcached), then
//   END. Ids are a comma-separated list of slab classes (1..63). An item
//   recovered from disk has no access time: la is the server's start, as
//   `me` counts it.
// - `lru_crawler crawl <all|ids>`: reclaims the classes' expired items at
//   once (memcached's crawler does it in the background), then OK.
// - `lru_crawler tocrawl|sleep <n>`, `enable`, `disable`: kept in the
//   settings `stats settings` shows.
// - `shutdown [graceful]`: with -A, a clean shutdown through the composition
//   root (Backend.requestShutdown: the same path as SIGTERM); the connection
//   closes without a reply. Without -A: "ERROR: shutdown not enabled".
//
// Deliberate difference: memcached refuses a metadump pipelined behind other
// replies ("ERROR cannot pipeline other commands before metadump") and drops
// commands pipelined after it; here a metadump is an ordinary reply in order.

import { safeStrtoul } from '../engine/cnumbers.js';
import type { ItemMeta } from '../engine/types.js';
import type { ReplySink, ServerContext } from './protocol.js';
import { lruCrawlerOf } from './stats.js';

/** memcached's MAX_NUMBER_OF_SLAB_CLASSES: class ids run 1..63. */
const slab_class_id_limit = 64;
/** memcached's ceiling for `lru_crawler sleep` (microseconds). */
const crawler_sleep_max_us = 1_000_000;

const crawler_disabled = 'CLIENT_ERROR lru crawler disabled';

function reply(out: ReplySink, text: string, seq = 0): void {
  out.reply.addText(text);
  out.commit(seq);
}

const line = (text: string): string => `${text}\r\n`;

function parseUint32(text: string): number | null {
  return safeStrtoul(Buffer.from(text, 'latin1'));
}

export function lruCrawlerCommand(ctx: ServerContext, args: string[], out: ReplySink): void {
  const crawler = lruCrawlerOf(ctx.settings);
  const [sub, arg] = args;
  if (args.length === 2 && (sub === 'crawl' || sub === 'metadump')) {
    if (!crawler.enabled) return reply(out, line(crawler_disabled));
    const classes = parseClasses(arg!, sub === 'metadump');
    if (typeof classes === 'string') return reply(out, line(classes));
    if (sub === 'crawl') {
      ctx.backend.engine.reclaimExpired(ctx.backend.now(), (id) => !classes || classes.has(id));
      return reply(out, line('OK'));
    }
    const engine = ctx.backend.engine;
    // The dump shows keys and CAS values: it waits until every write it may show is durable.
    return reply(out, metadump(ctx, classes), engine.lastSeq);
  }
  if (args.length === 2 && (sub === 'tocrawl' || sub === 'sleep')) {
    const n = parseUint32(arg!);
    if (n === null) return reply(out, line('CLIENT_ERROR bad command line format'));
    if (sub === 'sleep' && n > crawler_sleep_max_us) return reply(out, line('CLIENT_ERROR sleep must be one second or less'));
    if (sub === 'sleep') crawler.sleepUs = n;
    else crawler.toCrawl = n;
    return reply(out, line('OK'));
  }
  if (args.length === 1 && sub === 'enable') {
    if (crawler.enabled) return reply(out, line('ERROR failed to start lru crawler thread'));
    crawler.enabled = true;
    return reply(out, line('OK'));
  }
  if (args.length === 1 && sub === 'disable') {
    crawler.enabled = false;
    return reply(out, line('OK'));
  }
  reply(out, line('ERROR'));
}

/**
 * The slab classes a crawl covers: null for all of them, else a set of ids;
 * or memcached's refusal. `hash` (a walk of the hash table) is metadump only.
 */
function parseClasses(arg: string, hashAllowed: boolean): Set<number> | null | string {
  if (arg === 'all') return null;
  if (arg === 'hash') return hashAllowed ? null : 'ERROR an unknown error happened';
  const ids = new Set<number>();
  for (const piece of arg.split(',')) {
    if (piece === '') continue; // strtok skips empty fields
    const id = parseUint32(piece);
    if (id === null || id < 1 || id >= slab_class_id_limit) return 'BADCLASS invalid class id';
    ids.add(id);
  }
  return ids.size ? ids : 'NOTSTARTED no items to crawl';
}

function metadump(ctx: ServerContext, classes: Set<number> | null): string {
  const parts: string[] = [];
  ctx.backend.engine.itemMetadata(ctx.backend.now(), (item) => {
    if (!classes || classes.has(item.slabClass)) parts.push(metadumpLine(item));
  });
  parts.push('END\r\n');
  return parts.join('');
}

/** crawler_metadump_eval's line. */
function metadumpLine(item: ItemMeta): string {
  const exp = item.expiresAtMs === 0 ? -1 : Math.floor(item.expiresAtMs / 1000);
  const la = Math.floor(item.lastAccessMs / 1000);
  return `key=${uriEncode(item.key)} exp=${exp} la=${la} cas=${item.cas} fetch=${item.fetched ? 'yes' : 'no'} cls=${item.slabClass} size=${item.totalBytes}\n`;
}

/** memcached's uriencode: bytes other than [A-Za-z0-9-._~] as %XX (upper case). Keys are latin1: one char per byte. */
export function uriEncode(key: string): string {
  let out = '';
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    out += isUnreserved(c) ? key[i] : `%${c.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function isUnreserved(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2d || c === 0x2e || c === 0x5f || c === 0x7e;
}

export function shutdownCommand(ctx: ServerContext, args: string[], out: ReplySink): void {
  const request = ctx.backend.requestShutdown;
  if (!ctx.settings.shutdownEnabled || !request) return reply(out, line('ERROR: shutdown not enabled'));
  if (args.length > 1 || (args.length === 1 && args[0] !== 'graceful')) return reply(out, line('CLIENT_ERROR invalid shutdown mode'));
  ctx.log(0, 'shutdown command received');
  out.commit(0, true);
  request.call(ctx.backend);
}
