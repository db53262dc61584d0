#!/usr/bin/env node
// bench/step1-report.mjs MANIFEST META OUT_JSON
//
// Turns the raw logs of bench/step1.sh into bench/out/step1-results.json and
// prints a short table. Dependency-free (Node >= 20).
//
// Each manifest line (tab separated) is one measurement on a fresh server:
//   round server op tool log stats alive tool_rc server_rc load1_before
//   load1_after wall_s data_dir_bytes server_log
// A measurement is valid only if the load generator exited 0, printed its
// result, printed nothing unexpected (memaslap prints every error reply), had
// no get misses / verification failures, the server survived the load, and
// the server's own counters confirm the operations (so error replies cannot
// be counted as throughput).

import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import { execSync } from 'node:child_process';
import os from 'node:os';

const [manifestPath, metaPath, outPath] = process.argv.slice(2);
if (!manifestPath || !metaPath || !outPath) {
  console.error('usage: node bench/step1-report.mjs MANIFEST META OUT_JSON');
  process.exit(2);
}
const repoRoot = new URL('..', import.meta.url).pathname.replace(/\/$/, '');
const rel = (p) => relative(repoRoot, p);

const SERVERS = {
  lite: 'memcached-lite --fsync always',
  memcached: 'memcached (stock)',
  redis: 'redis-server appendfsync always',
};

// ---------- parsing ----------
const MEMASLAP_KNOWN = [
  /^$/, /^servers\s*:/, /^threads count:/, /^concurrency:/, /^run time:/, /^windows size:/,
  /^set proportion:/, /^get proportion:/, /^cmd_get:/, /^cmd_set:/, /^get_misses:/,
  /^verify_misses:/, /^verify_failed:/, /^expired_get:/, /^unexpired_unget:/,
  /^written_bytes:/, /^read_bytes:/, /^object_bytes:/, /^Run time:/,
];

function num(text, re) {
  const m = text.match(re);
  return m ? Number(m[1]) : null;
}

function parseMemaslap(text) {
  const r = {
    cmd_get: num(text, /^cmd_get: (\d+)/m),
    cmd_set: num(text, /^cmd_set: (\d+)/m),
    get_misses: num(text, /^get_misses: (\d+)/m),
    verify_misses: num(text, /^verify_misses: (\d+)/m),
    verify_failed: num(text, /^verify_failed: (\d+)/m),
    written_bytes: num(text, /^written_bytes: (\d+)/m),
    read_bytes: num(text, /^read_bytes: (\d+)/m),
    run_time_s: num(text, /^Run time: ([\d.]+)s/m),
    ops_reported: num(text, /^Run time: [\d.]+s Ops: (\d+)/m),
    tps_reported: num(text, /TPS: ([\d.]+)/m),
  };
  // every line memaslap prints besides its settings and totals is an error report
  const groups = new Map();
  let unexpected = 0;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (MEMASLAP_KNOWN.some((re) => re.test(line))) continue;
    unexpected++;
    const shape = line.replace(/^<\d+/, '<fd').replace(/key: [0-9a-f]+/i, 'key: …');
    const g = groups.get(shape) ?? { line: shape, count: 0, first: line };
    g.count++;
    groups.set(shape, g);
  }
  r.unexpected_lines = unexpected;
  r.unexpected = [...groups.values()].sort((a, b) => b.count - a.count).slice(0, 10);
  return r;
}

function parseRedisBenchmark(text) {
  // --csv: "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
  const row = text.split('\n').find((l) => l.startsWith('"SET"'));
  if (!row) return { rps: null, unexpected: text.split('\n').filter((l) => l && !l.startsWith('"test"')).slice(0, 10) };
  const f = row.split(',').map((x) => Number(x.replace(/"/g, '')));
  return {
    rps: f[1], avg_latency_ms: f[2], min_latency_ms: f[3], p50_latency_ms: f[4],
    p95_latency_ms: f[5], p99_latency_ms: f[6], max_latency_ms: f[7],
    unexpected: text.split('\n').filter((l) => l && !l.startsWith('"')).slice(0, 10),
  };
}

function parseStats(text) {
  const s = {};
  for (const line of text.split('\n')) {
    let m = line.match(/^STAT (\S+) (.*)$/);
    if (m) { s[m[1]] = m[2]; continue; }
    m = line.match(/^([a-z_0-9]+):(.*)$/); // redis INFO
    if (m) s[m[1]] = m[2];
  }
  return s;
}

const read = (p) => { try { return readFileSync(p, 'utf8'); } catch { return ''; } };
const n = (v) => (v === undefined || v === null || v === '' ? null : Number(v));

// ---------- measurements ----------
const meta = Object.fromEntries(read(metaPath).split('\n').filter(Boolean).map((l) => {
  const i = l.indexOf('=');
  return [l.slice(0, i), l.slice(i + 1)];
}));

const runs = [];
for (const line of read(manifestPath).split('\n').filter(Boolean)) {
  const [round, server, op, tool, log, statsPath, alive, toolRc, serverRc, load0, load1, wall, diskBytes, serverLog] = line.split('\t');
  const text = read(log);
  const stats = parseStats(read(statsPath));
  const run = {
    round: Number(round), server, op, tool,
    ops_per_s: null, valid: true, problems: [], anomalies: [],
    tool_exit: Number(toolRc), server_alive_after: alive === '1', server_exit_on_sigterm: Number(serverRc),
    load1_before: Number(load0), load1_after: Number(load1), wall_s: Number(wall),
    data_dir_bytes_at_end: Number(diskBytes),
    log: rel(log), server_log: rel(serverLog),
  };
  const bad = (why) => { run.valid = false; run.problems.push(why); };
  if (run.tool_exit !== 0) bad(`${tool} exited ${run.tool_exit}${run.tool_exit === 137 ? ' (killed by timeout)' : ''}`);
  if (!run.server_alive_after) {
    bad('server process died during the load');
    const tail = read(serverLog).trim().split('\n').slice(-15).join('\n');
    if (tail) run.server_log_tail = tail;
  }
  if (run.server_alive_after && run.server_exit_on_sigterm !== 0) {
    run.anomalies.push(`server exited ${run.server_exit_on_sigterm} on SIGTERM (expected 0)`);
  }

  if (tool === 'memcaslap') {
    const m = parseMemaslap(text);
    run.memcaslap = m;
    if (m.run_time_s === null) bad('memcaslap printed no result line');
    if (m.unexpected_lines > 0) bad(`memcaslap reported ${m.unexpected_lines} error line(s)`);
    const counted = op === 'set' ? m.cmd_set : m.cmd_get;
    if (m.run_time_s) run.ops_per_s = counted / m.run_time_s;
    if (op !== 'set' && m.get_misses) bad(`${m.get_misses} get misses`);
    if (m.verify_failed) bad(`${m.verify_failed} verification failures`);
    if (m.verify_misses) bad(`${m.verify_misses} verification misses`);
    if (op !== 'set' && !m.cmd_get) bad('no GETs were run');
    // the server's own counters must confirm what memaslap counted
    run.server_stats = pick(stats, ['version', 'cmd_get', 'cmd_set', 'get_hits', 'get_misses', 'curr_items', 'total_items',
      'evictions', 'curr_connections', 'total_connections', 'threads', 'rusage_user', 'rusage_system',
      'wal_bytes', 'wal_records', 'wal_fsyncs', 'wal_fsync_avg_us', 'durable_seq']);
    if (run.server_alive_after && Object.keys(stats).length === 0) bad('could not read server stats after the run');
    else if (run.server_alive_after) {
      const sSet = n(stats.cmd_set), sHits = n(stats.get_hits);
      if (m.cmd_set !== null && sSet !== null && sSet < 0.99 * m.cmd_set) {
        bad(`server counted ${sSet} sets, memcaslap sent ${m.cmd_set}`);
      }
      if (op !== 'set' && m.cmd_get && sHits !== null && sHits < 0.99 * m.cmd_get) {
        bad(`server counted ${sHits} get hits, memcaslap sent ${m.cmd_get} gets`);
      }
      const recs = n(stats.wal_records), fsyncs = n(stats.wal_fsyncs);
      if (recs !== null && fsyncs) run.wal_records_per_fsync = round2(recs / fsyncs);
    }
  } else {
    const r = parseRedisBenchmark(text);
    run.redis_benchmark = r;
    run.ops_per_s = r.rps;
    if (r.rps === null) bad('redis-benchmark printed no SET result');
    run.server_stats = pick(stats, ['redis_version', 'aof_enabled', 'appendfsync', 'aof_last_write_status',
      'total_commands_processed', 'db0', 'used_cpu_user', 'used_cpu_sys', 'aof_current_size']);
    if (run.server_alive_after) {
      if (stats.aof_enabled !== '1') bad('redis AOF was not enabled');
      if (stats.appendfsync !== 'always') bad(`redis appendfsync was ${stats.appendfsync}`);
      if (stats.aof_last_write_status && stats.aof_last_write_status !== 'ok') bad(`redis aof_last_write_status ${stats.aof_last_write_status}`);
      const cmds = n(stats.total_commands_processed);
      if (cmds !== null && cmds < Number(meta.redis_n)) bad(`redis processed ${cmds} commands, expected >= ${meta.redis_n}`);
    }
  }
  runs.push(run);
}

function pick(o, keys) {
  const r = {};
  for (const k of keys) if (o[k] !== undefined) r[k] = /^-?\d+(\.\d+)?$/.test(o[k]) ? Number(o[k]) : o[k];
  return r;
}
function round2(x) { return Math.round(x * 100) / 100; }
function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return null;
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

// ---------- aggregation ----------
const figures = {};
for (const server of Object.keys(SERVERS)) {
  for (const op of ['set', 'get']) {
    const rs = runs.filter((r) => r.server === server && r.op === op);
    if (rs.length === 0) continue;
    const xs = rs.map((r) => r.ops_per_s).filter((x) => typeof x === 'number' && Number.isFinite(x));
    figures[server] ??= { label: SERVERS[server] };
    figures[server][op] = {
      ops_per_s_median: xs.length ? Math.round(median(xs)) : null,
      ops_per_s_min: xs.length ? Math.round(Math.min(...xs)) : null,
      ops_per_s_max: xs.length ? Math.round(Math.max(...xs)) : null,
      ops_per_s_by_round: rs.map((r) => (r.ops_per_s === null ? null : Math.round(r.ops_per_s))),
      valid: rs.every((r) => r.valid) && xs.length === rs.length,
      problems: [...new Set(rs.flatMap((r) => r.problems))],
    };
  }
}

function ratio(name, num, den, threshold, goal) {
  const a = figures[num.server]?.[num.op], b = figures[den.server]?.[den.op];
  const value = a?.ops_per_s_median && b?.ops_per_s_median ? a.ops_per_s_median / b.ops_per_s_median : null;
  const rounds = [...new Set(runs.map((r) => r.round))].filter((x) => x > 0).sort((x, y) => x - y);
  const perRound = rounds.map((rd) => {
    const x = runs.find((r) => r.round === rd && r.server === num.server && r.op === num.op)?.ops_per_s;
    const y = runs.find((r) => r.round === rd && r.server === den.server && r.op === den.op)?.ops_per_s;
    return x && y ? round2(x / y) : null;
  });
  const valid = Boolean(a?.valid && b?.valid && value !== null);
  return {
    name, numerator: `${num.server} ${num.op}`, denominator: `${den.server} ${den.op}`,
    value: value === null ? null : round2(value), per_round: perRound, threshold, goal,
    valid, met: valid && threshold !== null ? value >= threshold : null,
    ...(valid ? {} : { note: 'not claimed: at least one measurement is invalid (see figures.*.problems)' }),
  };
}

const ratios = {
  lite_set_vs_redis_always_set: ratio('memcached-lite SET / Redis appendfsync-always SET',
    { server: 'lite', op: 'set' }, { server: 'redis', op: 'set' }, 1.0, 'durable SET throughput at 50 connections at least Redis-always\'s'),
  lite_get_vs_memcached_get: ratio('memcached-lite GET / stock memcached GET',
    { server: 'lite', op: 'get' }, { server: 'memcached', op: 'get' }, 0.6, 'GET throughput at least 0.6x stock memcached\'s under the same memcaslap load'),
  lite_set_vs_memcached_set: ratio('memcached-lite SET / stock memcached SET (information: memcached does not persist)',
    { server: 'lite', op: 'set' }, { server: 'memcached', op: 'set' }, null, null),
};

const sanity = runs.filter((r) => r.op === 'verify').map((r) => ({
  server: r.server, valid: r.valid, problems: r.problems,
  gets_per_s: r.ops_per_s === null ? null : Math.round(r.ops_per_s),
  verify_misses: r.memcaslap?.verify_misses ?? null, verify_failed: r.memcaslap?.verify_failed ?? null,
  get_misses: r.memcaslap?.get_misses ?? null, unexpected_lines: r.memcaslap?.unexpected_lines ?? null,
  log: r.log,
}));

// ---------- machine ----------
const sh = (cmd) => { try { return execSync(cmd, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(); } catch { return null; } };
const machine = {
  nproc: Number(sh('nproc')),
  uname: sh('uname -a'),
  node: process.version,
  date: new Date().toISOString(),
  cpu_model: os.cpus()[0]?.model ?? null,
  mem_total_mb: Math.round(os.totalmem() / 2 ** 20),
  loadavg_start: Number(meta.load1_start), loadavg_end: Number(meta.load1_end),
  data_dir_filesystem: meta.data_dir_fs,
  os_release: sh('. /etc/os-release && echo "$PRETTY_NAME"'),
  tools: {
    memcaslap: sh(`${meta.memaslap || 'memcaslap'} -V`)?.split('\n')[0] ?? null,
    libmemcached_tools: sh("dpkg-query -W -f='${Version}' libmemcached-tools"),
    memcached: sh('memcached -V'),
    redis_server: sh('redis-server --version'),
    redis_benchmark: sh('redis-benchmark --version'),
  },
  git: { commit: sh(`git -C ${repoRoot} rev-parse HEAD`), dirty_tracked_files: Number(sh(`git -C ${repoRoot} status --porcelain --untracked-files=no | wc -l`)) },
};

const anomalies = [];
for (const r of runs) {
  const where = `round ${r.round} ${r.server} ${r.op}`;
  for (const p of r.problems) anomalies.push(`${where}: ${p}`);
  for (const a of r.anomalies) anomalies.push(`${where}: ${a}`);
  for (const u of r.memcaslap?.unexpected ?? []) anomalies.push(`${where}: memcaslap printed ${u.count} x "${u.first}"`);
}

const results = {
  benchmark: 'step1',
  description: 'Durable SET and GET throughput at 50 connections: memcached-lite --fsync always vs stock memcached (memcaslap, 16-byte keys, 50-byte values) and vs redis-server appendfsync always (redis-benchmark -t set -c 50 -d 50)',
  started: meta.started, finished: meta.finished,
  config: {
    quick: meta.quick === '1', rounds: Number(meta.rounds), duration_s: Number(meta.duration_s),
    memcaslap_window_per_connection: meta.window, concurrency: Number(meta.concurrency), redis_requests: Number(meta.redis_n),
    server_cpu: Number(meta.server_cpu), load_cpu: Number(meta.load_cpu), lite_bin: meta.lite_bin,
    commands: {
      memcaslap_set: `taskset -c ${meta.load_cpu} memcaslap -s 127.0.0.1:PORT -F bench/memcaslap-set.cnf -c ${meta.concurrency} -T 1 -w ${meta.window} -t ${meta.duration_s}s`,
      memcaslap_get: `taskset -c ${meta.load_cpu} memcaslap -s 127.0.0.1:PORT -F bench/memcaslap-get.cnf -c ${meta.concurrency} -T 1 -w ${meta.window} -t ${meta.duration_s}s`,
      redis_benchmark: `taskset -c ${meta.load_cpu} redis-benchmark -h 127.0.0.1 -p PORT -t set -c ${meta.concurrency} -d 50 -r 1000000 -n ${meta.redis_n} --csv`,
      lite: `taskset -c ${meta.server_cpu} bin/memcached-lite -p PORT -l 127.0.0.1 --data-dir $(mktemp -d) --fsync always`,
      memcached: `taskset -c ${meta.server_cpu} memcached ${process.getuid?.() === 0 ? '-u root ' : ''}-U 0 -l 127.0.0.1 -p PORT`,
      redis: `taskset -c ${meta.server_cpu} redis-server --port PORT --bind 127.0.0.1 --dir $(mktemp -d) --appendonly yes --appendfsync always --save ''`,
    },
    throughput_definition: 'memcaslap SET: cmd_set / Run time; memcaslap GET: cmd_get / Run time (the warm-up SETs memaslap does before starting its clock are excluded); redis-benchmark: its rps. Median over rounds.',
  },
  machine,
  figures,
  ratios,
  sanity,
  anomalies,
  runs,
};

mkdirSync(dirname(outPath), { recursive: true });
writeFileSync(outPath, JSON.stringify(results, null, 2) + '\n');

// ---------- table ----------
const fmt = (x) => (x === null || x === undefined ? '-' : String(Math.round(x)).replace(/\B(?=(\d{3})+(?!\d))/g, ','));
const lines = [];
lines.push(`step1 (${results.config.quick ? 'QUICK, ' : ''}${results.config.rounds} round(s) x ${results.config.duration_s}s, ${results.config.concurrency} conns, server CPU ${results.config.server_cpu}, load CPU ${results.config.load_cpu})`);
lines.push('op   server                            median ops/s   per round                  valid');
for (const op of ['set', 'get']) {
  for (const server of Object.keys(SERVERS)) {
    const f = figures[server]?.[op];
    if (!f) continue;
    lines.push(`${op.toUpperCase().padEnd(4)} ${SERVERS[server].padEnd(33)} ${fmt(f.ops_per_s_median).padStart(12)}   ${f.ops_per_s_by_round.map(fmt).join(' / ').padEnd(26)} ${f.valid ? 'yes' : 'NO'}`);
  }
}
for (const r of Object.values(ratios)) {
  const verdict = r.threshold === null ? '' : r.met === null ? `  (goal >= ${r.threshold}: NOT MEASURABLE, invalid data)` : `  (goal >= ${r.threshold}: ${r.met ? 'met' : 'NOT met'})`;
  lines.push(`ratio ${r.name}: ${r.value ?? '-'} [per round ${r.per_round.join(', ')}]${r.valid ? '' : ' INVALID'}${verdict}`);
}
for (const s of sanity) {
  lines.push(`sanity ${s.server} GET --verify=0.1: ${s.valid ? 'ok' : 'FAILED'} (verify_failed ${s.verify_failed ?? '-'}, get_misses ${s.get_misses ?? '-'}, error lines ${s.unexpected_lines ?? '-'})`);
}
if (anomalies.length) {
  lines.push(`anomalies (${anomalies.length}):`);
  for (const a of anomalies.slice(0, 20)) lines.push(`  - ${a}`);
  if (anomalies.length > 20) lines.push(`  ... ${anomalies.length - 20} more in ${rel(outPath)}`);
}
lines.push(`results: ${rel(outPath)}`);
console.log(lines.join('\n'));
