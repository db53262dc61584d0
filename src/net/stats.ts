// `stats` replies in memcached's field names and formats, so memcached tools
// (and the Prometheus exporter) read them. General stats, `stats items`,
// `stats slabs`, `stats settings` and `stats conns`; `stats reset` clears the
// counters. Both protocols take their lines from statGroup (text words them
// as `STAT name value`, binary as one packet per stat); `stats conns` is
// text-only, as in memcached (its binary stat answers KEY_ENOENT for it).
//
// Every line is `STAT <name> <value>` with no space inside the value (the
// exporter splits lines on spaces): text values we supply, such as paths,
// have their whitespace and '%' percent-encoded.

import { slabClasses, type Engine } from '../engine/engine.js';
import { slab_page_size_bytes } from '../engine/slabs.js';
import type { Backend, LruCrawlerSettings, ServerSettings } from './backend.js';
import type { ServerContext } from './protocol.js';

/**
 * The version we answer `version` and `stats` with: memcached's own, since
 * clients parse it (node-memcached throws, uncaught, on `1.6.18-lite`).
 */
export const memcached_version = '1.6.18';
export const server_version = memcached_version;

export interface ConnectionCounters {
  currConnections: number;
  totalConnections: number;
  rejectedConnections: number;
  bytesRead: number;
  bytesWritten: number;
  /** Connections closed by the idle timeout (memcached's idle_kicks). */
  idleKicks: number;
}

export type StatLines = Array<[string, string | number]>;

function rusage(): { user: string; system: string } {
  const u = process.resourceUsage();
  const fmt = (us: number) => `${Math.floor(us / 1e6)}.${String(us % 1e6).padStart(6, '0')}`;
  return { user: fmt(u.userCPUTime), system: fmt(u.systemCPUTime) };
}

export function generalStats(backend: Backend, settings: ServerSettings, conns: ConnectionCounters, startedAtMs: number): StatLines {
  const engine = backend.engine;
  const c = engine.counters;
  const nowMs = backend.now();
  const ru = rusage();
  return [
    ['pid', process.pid],
    ['uptime', Math.max(0, Math.floor((nowMs - startedAtMs) / 1000))],
    ['time', Math.floor(nowMs / 1000)],
    ['version', server_version],
    ['libevent', 'node'],
    ['pointer_size', 64],
    ['rusage_user', ru.user],
    ['rusage_system', ru.system],
    ['max_connections', settings.connectionLimit],
    ['curr_connections', conns.currConnections],
    ['total_connections', conns.totalConnections],
    ['rejected_connections', conns.rejectedConnections],
    ['connection_structures', conns.currConnections],
    ['cmd_get', c.cmdGet],
    ['cmd_set', c.cmdSet],
    ['cmd_flush', c.cmdFlush],
    ['cmd_touch', c.cmdTouch],
    ['get_hits', c.getHits],
    ['get_misses', c.getMisses],
    ['get_expired', c.getExpired],
    ['get_flushed', c.getFlushed],
    ['delete_misses', c.deleteMisses],
    ['delete_hits', c.deleteHits],
    ['incr_misses', c.incrMisses],
    ['incr_hits', c.incrHits],
    ['decr_misses', c.decrMisses],
    ['decr_hits', c.decrHits],
    ['cas_misses', c.casMisses],
    ['cas_hits', c.casHits],
    ['cas_badval', c.casBadval],
    ['touch_hits', c.touchHits],
    ['touch_misses', c.touchMisses],
    ['store_too_large', c.storeTooLarge],
    ['store_no_memory', c.outOfMemory],
    ['auth_cmds', settings.auth?.attempts ?? 0],
    ['auth_errors', settings.auth?.failures ?? 0],
    ...(settings.idleTimeoutS ? [['idle_kicks', conns.idleKicks] as [string, number]] : []),
    ['bytes_read', conns.bytesRead],
    ['bytes_written', conns.bytesWritten],
    ['limit_maxbytes', engine.memoryLimitBytes],
    ['accepting_conns', 1],
    ['threads', 1],
    ['conn_yields', 0],
    ['bytes', engine.bytes],
    ['curr_items', engine.itemCount],
    ['total_items', c.totalItems],
    ['expired_unfetched', c.expiredUnfetched],
    ['evicted_unfetched', c.evictedUnfetched],
    ['evictions', c.evictions],
    ['reclaimed', c.reclaimed],
    ...backend.storageStats(),
  ];
}

export function itemStats(engine: Engine, nowMs: number): StatLines {
  const lines: StatLines = [];
  const ages = engine.oldestAgeByClass(nowMs);
  for (const [id, s] of [...engine.slabStats()].sort((a, b) => a[0] - b[0])) {
    if (s.number === 0) continue;
    const p = `items:${id}:`;
    lines.push(
      [`${p}number`, s.number],
      [`${p}number_hot`, 0],
      [`${p}number_warm`, 0],
      [`${p}number_cold`, s.number],
      [`${p}age_hot`, 0],
      [`${p}age_warm`, 0],
      [`${p}age`, ages.get(id) ?? 0],
      [`${p}mem_requested`, s.requestedBytes],
      [`${p}evicted`, s.evicted],
      [`${p}evicted_nonzero`, s.evictedNonzero],
      [`${p}evicted_time`, s.lastEvictedAgeS],
      [`${p}outofmemory`, s.outOfMemory],
      [`${p}tailrepairs`, 0],
      [`${p}reclaimed`, s.reclaimed],
      [`${p}expired_unfetched`, s.expiredUnfetched],
      [`${p}evicted_unfetched`, s.evictedUnfetched],
      [`${p}evicted_active`, 0],
      [`${p}crawler_reclaimed`, 0],
      [`${p}crawler_items_checked`, 0],
      [`${p}lrutail_reflocked`, 0],
      [`${p}moves_to_cold`, 0],
      [`${p}moves_to_warm`, 0],
      [`${p}moves_within_lru`, 0],
      [`${p}direct_reclaims`, 0],
      [`${p}hits_to_hot`, 0],
      [`${p}hits_to_warm`, 0],
      [`${p}hits_to_cold`, 0],
      [`${p}hits_to_temp`, 0],
    );
  }
  return lines;
}

export function slabStats(engine: Engine): StatLines {
  const lines: StatLines = [];
  let active = 0;
  let malloced = 0;
  for (const [id, s] of [...engine.slabStats()].sort((a, b) => a[0] - b[0])) {
    if (s.pagesAllocated === 0) continue;
    const cls = slabClasses[id - 1]!;
    const totalChunks = s.pagesAllocated * cls.chunksPerPage;
    active++;
    malloced += s.pagesAllocated * slab_page_size_bytes;
    const p = `${id}:`;
    lines.push(
      [`${p}chunk_size`, cls.chunkSizeBytes],
      [`${p}chunks_per_page`, cls.chunksPerPage],
      [`${p}total_pages`, s.pagesAllocated],
      [`${p}total_chunks`, totalChunks],
      [`${p}used_chunks`, s.chunksUsed],
      [`${p}free_chunks`, Math.max(0, totalChunks - s.chunksUsed)],
      [`${p}free_chunks_end`, 0],
      [`${p}get_hits`, s.getHits],
      [`${p}cmd_set`, s.setCmds],
      [`${p}delete_hits`, s.deleteHits],
      [`${p}incr_hits`, s.incrHits],
      [`${p}decr_hits`, s.decrHits],
      [`${p}cas_hits`, s.casHits],
      [`${p}cas_badval`, s.casBadval],
      [`${p}touch_hits`, s.touchHits],
    );
  }
  lines.push(['active_slabs', active], ['total_malloced', malloced]);
  return lines;
}

/** memcached's lru_crawler defaults: running, 100 us between items, no per-run cap. */
export function lruCrawlerOf(settings: ServerSettings): LruCrawlerSettings {
  return settings.lruCrawler ??= { enabled: true, sleepUs: 100, toCrawl: 0 };
}

const yesNo = (on: unknown): string => (on ? 'yes' : 'no');

/** A text value safe on a STAT line: whitespace and '%' percent-encoded. */
export function statText(value: string): string {
  return value.replace(/[\s%]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

/**
 * memcached's `stats settings`, field for field in its order (without the
 * extstore, proxy and drop_privileges fields of builds that have them). Our
 * values where we have the setting; memcached's defaults for tunables of
 * machinery we do not have (segmented LRU, slab rebalancing), with
 * lru_segmented, slab_reassign and slab_automove saying it is off. Our own
 * options follow memcached's fields.
 */
export function settingsStats(settings: ServerSettings, engine: Engine): StatLines {
  const crawler = lruCrawlerOf(settings);
  const tls = settings.tls;
  return [
    ['maxbytes', engine.memoryLimitBytes],
    ['maxconns', settings.connectionLimit],
    ['tcpport', settings.port],
    ['udpport', 0],
    ['inter', statText(settings.host)],
    ['verbosity', settings.verbosity],
    ['oldest', 0],
    ['evictions', settings.evictionsDisabled ? 'off' : 'on'],
    ['domain_socket', 'NULL'],
    ['umask', 700],
    ['shutdown_command', yesNo(settings.shutdownEnabled)],
    ['growth_factor', '1.25'],
    ['chunk_size', 48],
    ['num_threads', 1],
    ['num_threads_per_udp', 1],
    ['stat_key_prefix', ':'],
    ['detail_enabled', 'no'],
    ['reqs_per_event', 20],
    ['cas_enabled', 'yes'],
    ['tcp_backlog', 1024],
    // memcached's -B auto (text or binary by the first byte); -Y forces ascii (protocols.ts).
    ['binding_protocol', settings.auth ? 'ascii' : 'auto-negotiate'],
    ['auth_enabled_sasl', 'no'],
    ['auth_enabled_ascii', settings.auth ? statText(settings.auth.file) : 'no'],
    ['item_size_max', settings.itemSizeMaxBytes],
    ['maxconns_fast', 'yes'],
    ['hashpower_init', 0],
    ['slab_reassign', 'no'],
    ['slab_automove', 0],
    ['slab_automove_ratio', '0.80'],
    ['slab_automove_window', 30],
    ['slab_chunk_max', slabClasses[slabClasses.length - 1]!.chunkSizeBytes],
    ['lru_crawler', yesNo(crawler.enabled)],
    ['lru_crawler_sleep', crawler.sleepUs],
    ['lru_crawler_tocrawl', crawler.toCrawl],
    ['tail_repair_time', 0],
    ['flush_enabled', 'yes'],
    ['dump_enabled', 'yes'],
    ['hash_algorithm', 'fnv1a'],
    ['lru_maintainer_thread', 'no'],
    ['lru_segmented', 'no'],
    ['hot_lru_pct', 20],
    ['warm_lru_pct', 40],
    ['hot_max_factor', '0.20'],
    ['warm_max_factor', '2.00'],
    ['temp_lru', 'no'],
    ['temporary_ttl', 61],
    ['idle_timeout', settings.idleTimeoutS ?? 0],
    ['watcher_logbuf_size', 262144],
    ['worker_logbuf_size', 65536],
    ['read_buf_mem_limit', 0],
    ['track_sizes', 'no'],
    ['inline_ascii_response', 'no'],
    ['ssl_enabled', yesNo(tls)],
    ['ssl_chain_cert', tls ? statText(tls.certFile) : '(null)'],
    ['ssl_key', tls ? statText(tls.keyFile) : '(null)'],
    // memcached shows OpenSSL's flags: SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT when required.
    ['ssl_verify_mode', tls?.verifyClient ? 3 : 0],
    ['ssl_keyformat', 1],
    ['ssl_ciphers', 'NULL'],
    ['ssl_ca_cert', tls?.caFile ? statText(tls.caFile) : 'NULL'],
    ['ssl_wbuf_size', 16384],
    ['ssl_session_cache', 'no'],
    ['ssl_kernel_tls', 'no'],
    ['ssl_min_version', 'tlsv1.2'],
    ['num_napi_ids', '(null)'],
    ['memory_file', '(null)'],
    ['data_dir', statText(settings.dataDir)],
    ['fsync', settings.fsyncMode],
    ...(settings.extraSettings ?? []),
  ];
}

/** The lines of `stats` (group null) or `stats <group>`; undefined for a group we do not have. */
export function statGroup(ctx: ServerContext, group: string | null): StatLines | undefined {
  const { backend, settings, counters, startedAtMs } = ctx;
  switch (group) {
    case null: return generalStats(backend, settings, counters, startedAtMs);
    case 'items': return itemStats(backend.engine, backend.now());
    case 'slabs': return slabStats(backend.engine);
    case 'settings': return settingsStats(settings, backend.engine);
    default: return undefined;
  }
}

/** What `stats conns` shows of a listener (listenAddr null) or a connection. */
export interface ConnectionView {
  /** memcached shows the file descriptor; we number listeners and connections. */
  id: number;
  /** `tcp:<ip>:<port>` or `tcp6:[<ip>]:<port>`: the peer, or a listener's own address. */
  addr: string;
  listenAddr: string | null;
  state: string;
  secsSinceLastCmd: number;
}

/** `stats conns` (text protocol only). */
export function connectionStats(views: Iterable<ConnectionView>): StatLines {
  const lines: StatLines = [];
  for (const v of views) {
    lines.push([`${v.id}:addr`, v.addr]);
    if (v.listenAddr !== null) lines.push([`${v.id}:listen_addr`, v.listenAddr]);
    lines.push([`${v.id}:state`, v.state], [`${v.id}:secs_since_last_cmd`, v.secsSinceLastCmd]);
  }
  return lines;
}

/** `stats reset`: memcached zeroes its counters (not gauges such as curr_connections), auth and idle ones included. */
export function resetStats(ctx: ServerContext): void {
  ctx.backend.engine.resetCounters();
  const counters = ctx.counters;
  counters.totalConnections = 0;
  counters.rejectedConnections = 0;
  counters.bytesRead = 0;
  counters.bytesWritten = 0;
  counters.idleKicks = 0;
  ctx.settings.auth?.resetCounters();
}

export function formatStats(lines: StatLines): string {
  let out = '';
  for (const [name, value] of lines) out += `STAT ${name} ${value}\r\n`;
  return out + 'END\r\n';
}
