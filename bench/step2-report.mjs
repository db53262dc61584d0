#!/usr/bin/env node
// bench/step2-report.mjs LOG_DIR OUT_JSON
//
// Turns what bench/step2.sh left in LOG_DIR (meta.env, results/*.json[l],
// server logs, the server-side event-loop log) into OUT_JSON and prints a
// table. Dependency-free (Node >= 20). Every figure is checked against what
// the servers themselves said (item counts, the recovery line naming the WAL
// records replayed, the snapshot completion line); a measurement whose checks
// fail is marked invalid and no target verdict is claimed from it.

import { readFileSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { execSync } from 'node:child_process';
import os from 'node:os';

const [logDir, outPath] = process.argv.slice(2);
if (!logDir || !outPath) {
  console.error('usage: node bench/step2-report.mjs LOG_DIR OUT_JSON');
  process.exit(2);
}
const repoRoot = new URL('..', import.meta.url).pathname.replace(/\/$/, '');
const rel = (p) => relative(repoRoot, p);
const res = (f) => join(logDir, 'results', f);
const readJson = (p) => (existsSync(p) ? JSON.parse(readFileSync(p, 'utf8')) : null);
const readJsonl = (p) => (existsSync(p) ? readFileSync(p, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : []);
const readText = (p) => (existsSync(p) ? readFileSync(p, 'utf8') : '');

const meta = {};
for (const line of readText(join(logDir, 'meta.env')).split('\n')) {
  const at = line.indexOf('=');
  if (at > 0) meta[line.slice(0, at)] = line.slice(at + 1);
}
const ITEMS = Number(meta.items), UPDATES = Number(meta.updates);
const median = (xs) => {
  const a = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((p, q) => p - q);
  if (!a.length) return null;
  const m = a.length >> 1;
  return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2;
};
const r2 = (x) => (x === null || x === undefined || !Number.isFinite(x) ? null : +x.toFixed(2));
const r1 = (x) => (x === null || x === undefined || !Number.isFinite(x) ? null : +x.toFixed(1));
const anomalies = [];

// ---------- 1 + 2. start-up and memory ----------
const startups = readJsonl(res('startup.jsonl'));
for (const s of startups) {
  const log = readText(s.log);
  s.problems = [];
  if (s.items !== ITEMS) s.problems.push(`holds ${s.items} items, expected ${ITEMS}`);
  if (s.server === 'lite') {
    const m = /recovered (\d+) items from snapshot (\S+) \((\d+) items\) and (\d+) WAL records in (\d+) segments \((\d+) ms[^)]*\)/.exec(log);
    if (!m) s.problems.push('no "recovered ... from snapshot ... and ... WAL records" line');
    else {
      s.recovery = { items: +m[1], snapshot: m[2], snapshot_items: +m[3], wal_records: +m[4], wal_segments: +m[5], internal_ms: +m[6] };
      if (s.recovery.snapshot_items !== ITEMS) s.problems.push(`snapshot held ${s.recovery.snapshot_items} items, expected ${ITEMS}`);
      if (s.recovery.wal_records !== UPDATES) s.problems.push(`replayed ${s.recovery.wal_records} WAL records, expected ${UPDATES}`);
    }
  } else {
    const m = /DB loaded from append only file: ([\d.]+) seconds/.exec(log);
    const base = /DB loaded from base file (\S+)/.exec(log);
    const incr = /DB loaded from incr file (\S+)/.exec(log);
    s.recovery = { internal_ms: m ? Math.round(+m[1] * 1000) : null, base_file: base?.[1] ?? null, incr_file: incr?.[1] ?? null };
    if (!m) s.problems.push('no "DB loaded from append only file" line');
    if (!base || !incr) s.problems.push('Redis did not load both an AOF base and an increment file');
  }
  s.valid = s.problems.length === 0 && s.probe?.ready_ms !== null;
  for (const p of s.problems) anomalies.push(`start-up round ${s.round} ${s.server}: ${p}`);
}
const empty = Object.fromEntries(readJsonl(res('empty.jsonl')).map((e) => [e.server, e.rss_kb]));
const perServer = (server) => {
  const rows = startups.filter((s) => s.server === server);
  const ok = rows.filter((s) => s.valid);
  const rssSettled = median(ok.map((s) => s.rss_settled_kb));
  return {
    rounds: rows.length, valid: rows.length > 0 && ok.length === rows.length,
    ready_ms_median: r1(median(ok.map((s) => s.probe.ready_ms))),
    ready_ms_by_round: rows.map((s) => s.probe?.ready_ms ?? null),
    log_line_ms_median: r1(median(ok.map((s) => s.probe.log_line_ms))),
    log_stamp_ms_median: server === 'lite' ? r1(median(ok.map((s) => s.probe.log_stamp_ms))) : undefined,
    accept_ms_median: r1(median(ok.map((s) => s.probe.accept_ms))),
    internal_recovery_ms_median: median(ok.map((s) => s.recovery?.internal_ms)),
    rss_ready_mb_median: r1(median(ok.map((s) => s.rss_ready_kb)) / 1024),
    rss_settled_mb_median: r1(rssSettled / 1024),
    rss_settled_mb_by_round: rows.map((s) => r1(s.rss_settled_kb / 1024)),
    vmhwm_mb_max: r1(Math.max(...rows.map((s) => s.hwm_settled_kb)) / 1024),
    rss_empty_server_mb: empty[server] ? r1(empty[server] / 1024) : null,
    rss_bytes_per_item: rssSettled ? Math.round((rssSettled * 1024) / ITEMS) : null,
    rss_net_bytes_per_item: rssSettled && empty[server] ? Math.round(((rssSettled - empty[server]) * 1024) / ITEMS) : null,
    redis_used_memory_mb: server === 'redis' ? r1(median(ok.map((s) => s.extra?.used_memory)) / 2 ** 20) : undefined,
  };
};
const startup = { lite: perServer('lite'), redis: perServer('redis') };

// ---------- 3. GET latency during a snapshot ----------
const eldLines = readText(join(logDir, 'lite-snapshot.eld.log')).split('\n').filter(Boolean).map((l) => l.split(' '));
const eldStart = eldLines.find((p) => p[0] === 'start');
const eldResolution = eldStart && eldStart[4] === 'resolution_ms' ? Number(eldStart[5]) : 0;
// an "eld" value is the longest tick interval (resolution included): the delay is value - resolution
const eld = eldLines.filter((p) => p[0] === 'eld' && +p[3] > 0).map((p) => ({ t: +p[1], max: Math.max(0, +p[2] - eldResolution) }));
const gcs = eldLines.filter((p) => p[0] === 'gc').map((p) => ({ t: +p[1], ms: +p[2], kind: p[3] }));
// an "eld" line at time t covers (t - ~100 ms, t]; a stall delays the line itself, so look a little past the end
const eldMax = (from, to) => eld.filter((e) => e.t > from && e.t <= to + 300).reduce((m, e) => Math.max(m, e.max), 0);
const gcIn = (from, to) => gcs.filter((g) => g.t + g.ms > from && g.t < to);
const loads = readJsonl(res('getload.jsonl'));
const snapLog = readText(join(logDir, 'lite-snapshot.server.log'));
const snapLines = [...snapLog.matchAll(/snapshot (\S+): (\d+) items in (\d+) ms; removed (\d+) old snapshot\(s\) and (\d+) WAL bytes/g)];
// CPU use during one load run: busy and steal per CPU, the server's own share of its CPU
const cpuUse = (row) => {
  if (!row?.cpu_before || !row?.cpu_after) return null;
  const o = {};
  for (const c of Object.keys(row.cpu_after)) {
    const [b0, t0, s0] = row.cpu_before[c], [b1, t1, s1] = row.cpu_after[c];
    const dt = t1 - t0 || 1;
    o[c] = { busy_pct: Math.round((100 * (b1 - b0)) / dt), steal_pct: Math.round((100 * (s1 - s0)) / dt) };
  }
  const server = `cpu${meta.server_cpu}`;
  if (o[server]) {
    const dt = row.cpu_after[server][1] - row.cpu_before[server][1] || 1;
    o[server].server_process_pct = Math.round((100 * row.server_jiffies) / dt);
    o[server].others_pct = Math.max(0, o[server].busy_pct - o[server].server_process_pct);
  }
  return o;
};
const latencyRounds = [];
for (const l of loads.filter((x) => x.mode === 'baseline')) {
  const s = loads.find((x) => x.mode === 'snapshot' && x.round === l.round);
  const b = l.result, sn = s?.result;
  const problems = [];
  if (l.rc !== 0 || !b) problems.push(`baseline load generator failed (rc ${l.rc})`);
  if (!s || s.rc !== 0 || !sn) problems.push(`snapshot-run load generator failed (rc ${s?.rc})`);
  if (b && (b.misses || b.errors)) problems.push(`baseline: ${b.misses} misses, ${b.errors} errors`);
  if (sn && (sn.misses || sn.errors)) problems.push(`snapshot run: ${sn.misses} misses, ${sn.errors} errors`);
  if (!l.server_alive || (s && !s.server_alive)) problems.push('server died');
  const line = sn?.snapshot?.line ?? '';
  const lm = /snapshot (\S+): (\d+) items in (\d+) ms/.exec(line);
  if (!lm) problems.push(`no snapshot completion line (${line || 'none'})`);
  else if (+lm[2] !== ITEMS) problems.push(`snapshot wrote ${lm[2]} items, expected ${ITEMS}`);
  const baseFrom = b?.measured_from_wall_ms, baseTo = b?.measured_to_wall_ms;
  const sigW = sn?.snapshot?.signal_wall_ms, doneW = sn?.snapshot?.done_wall_ms;
  const row = {
    round: l.round, valid: problems.length === 0, problems,
    baseline: b && {
      gets_per_s: b.gets_per_s, ...b.all, max_reply_gap_ms: b.max_reply_gap_ms,
      server_eld_max_ms: eld.length ? eldMax(baseFrom, baseTo - 300) : null,
      generator_eld_max_ms: b.generator.eld_max_ms,
    },
    during_snapshot: sn && {
      snapshot_line: line, snapshot_server_ms: lm ? +lm[3] : null, window_ms: sn.snapshot.window_ms,
      gets_per_s: sn.snapshot.gets_per_s_during, ...sn.snapshot.during,
      max_reply_gap_ms: sn.snapshot.max_reply_gap_ms, top_gaps: sn.snapshot.top_gaps,
      server_eld_max_ms: eld.length ? eldMax(sigW, doneW) : null,
      server_gc_pauses_ms: gcIn(sigW, doneW + 300).map((g) => ({ ms: g.ms, kind: g.kind, at_ms_after_signal: g.t - sigW })),
      generator_eld_max_ms: sn.generator.eld_max_ms,
    },
    snapshot_run_outside_window: sn?.snapshot?.outside,
    cpu: { baseline_run: cpuUse(l), snapshot_run: cpuUse(s) },
    rss_mb: { before_baseline: r1(l.rss_before_kb / 1024), after_baseline: r1(l.rss_after_kb / 1024), after_snapshot: r1(s?.rss_after_kb / 1024), vmhwm_after_snapshot: r1(s?.hwm_kb / 1024) },
  };
  if (row.baseline && row.during_snapshot) {
    row.p99_ratio = r2(row.during_snapshot.p99_ms / row.baseline.p99_ms);
    row.longest_stall_ms = Math.max(row.during_snapshot.max_reply_gap_ms ?? 0, row.during_snapshot.server_eld_max_ms ?? 0);
  }
  for (const p of problems) anomalies.push(`latency round ${l.round}: ${p}`);
  // not invalid, but say so when the shared machine disturbed the run
  for (const [run, cpu] of Object.entries(row.cpu)) {
    if (!cpu) continue;
    const sc = cpu[`cpu${meta.server_cpu}`] ?? {};
    const steal = Math.max(...Object.values(cpu).map((c) => c.steal_pct));
    if ((sc.others_pct ?? 0) >= 10 || steal >= 5) anomalies.push(`latency round ${l.round} ${run}: other processes used ${sc.others_pct}% of the server's CPU, steal up to ${steal}% (shared machine; figures disturbed)`);
  }
  for (const [what, x] of [['baseline', row.baseline], ['snapshot run', row.during_snapshot]]) {
    if (x && x.generator_eld_max_ms > 25) anomalies.push(`latency round ${l.round} ${what}: the load generator itself paused up to ${x.generator_eld_max_ms} ms (its gaps are not all the server's)`);
  }
  latencyRounds.push(row);
}
const okLat = latencyRounds.filter((r) => r.valid);
const latency = {
  conns: Number(meta.conns), rounds: latencyRounds.length, valid: latencyRounds.length > 0 && okLat.length === latencyRounds.length,
  baseline_p50_ms_median: r2(median(okLat.map((r) => r.baseline.p50_ms))),
  baseline_p99_ms_median: r2(median(okLat.map((r) => r.baseline.p99_ms))),
  during_p50_ms_median: r2(median(okLat.map((r) => r.during_snapshot.p50_ms))),
  during_p99_ms_median: r2(median(okLat.map((r) => r.during_snapshot.p99_ms))),
  baseline_gets_per_s_median: median(okLat.map((r) => r.baseline.gets_per_s)),
  during_gets_per_s_median: median(okLat.map((r) => r.during_snapshot.gets_per_s)),
  snapshot_ms_median: median(okLat.map((r) => r.during_snapshot.snapshot_server_ms)),
  longest_stall_ms: okLat.length ? r1(Math.max(...okLat.map((r) => r.longest_stall_ms))) : null,
  longest_client_reply_gap_ms: okLat.length ? r1(Math.max(...okLat.map((r) => r.during_snapshot.max_reply_gap_ms))) : null,
  longest_server_eld_ms: okLat.length && eld.length ? r1(Math.max(...okLat.map((r) => r.during_snapshot.server_eld_max_ms))) : null,
  baseline_longest_server_eld_ms: okLat.length && eld.length ? r1(Math.max(...okLat.map((r) => r.baseline.server_eld_max_ms))) : null,
  generator_eld_max_ms: okLat.length ? r1(Math.max(...okLat.flatMap((r) => [r.baseline.generator_eld_max_ms, r.during_snapshot.generator_eld_max_ms]))) : null,
  per_round: latencyRounds,
  snapshot_lines_in_server_log: snapLines.map((m) => m[0]),
  server_stop: { signal: 'TERM', exit_status: meta.lite_snapshot_server_stop_rc === undefined ? null : Number(meta.lite_snapshot_server_stop_rc), clean_shutdown_line: /clean shutdown complete/.test(snapLog) },
};
if (latency.server_stop.exit_status !== 0) anomalies.push(`memcached-lite (snapshot run) exited with status ${latency.server_stop.exit_status} on SIGTERM`);
const fatal = snapLog.split('\n').filter((l) => /fatal|snapshot failed|Error|cannot/i.test(l));
for (const f of fatal.slice(0, 5)) anomalies.push(`snapshot-run server log: ${f}`);

// ---------- 4. data directory after compaction ----------
const dirBefore = readJson(res('dir-before-compact.json'));
const dirAfter = readJson(res('dir-after-compact.json'));
const dirFig = (d) => d && {
  du_bytes: d.du_bytes, reserve_bytes: d.reserve_bytes, du_minus_reserve_bytes: d.du_bytes - d.reserve_bytes,
  newest_snapshot: d.newest_snapshot, newest_snapshot_bytes: d.newest_snapshot_bytes,
  ratio: r2((d.du_bytes - d.reserve_bytes) / d.newest_snapshot_bytes),
  snapshot_files: d.files.filter((f) => f.path.startsWith('snapshots/')).length,
  snapshot_bytes_total: d.files.filter((f) => f.path.startsWith('snapshots/')).reduce((a, f) => a + f.bytes, 0),
  wal_segment_bytes_total: d.files.filter((f) => /^wal\/\d+\.wal$/.test(f.path)).reduce((a, f) => a + f.bytes, 0),
  files: d.files,
};
const disk = {
  before_compact: dirFig(dirBefore), after_compact: dirFig(dirAfter),
  compact_exit_status: meta.lite_compact_rc === undefined ? null : Number(meta.lite_compact_rc),
  compact_ms: meta.lite_compact_ms ? Number(meta.lite_compact_ms) : null,
  compact_output: readText(join(logDir, 'lite-compact.log')).trim(),
  inspect_exit_status_after: meta.lite_inspect_rc === undefined ? null : Number(meta.lite_inspect_rc),
  live_data_bytes_raw: ITEMS * (16 + 50),
  note: 'compaction keeps two snapshots (the new one and the newest older valid one, as the fallback) and the WAL segments after the fallback\'s start sequence, so after a compaction the directory holds about two snapshots plus the WAL written since the previous snapshot; a compaction with no write since the last snapshot rewrites the same snapshot name and changes nothing',
  redis_context: {
    aof_dir_bytes_base_plus_increment: meta.redis_aof_dir_bytes ? Number(meta.redis_aof_dir_bytes) : null,
    aof_dir_bytes_after_bgrewriteaof: meta.redis_aof_dir_after_rewrite_bytes ? Number(meta.redis_aof_dir_after_rewrite_bytes) : null,
    aof_use_rdb_preamble: meta.redis_rdb_preamble ?? null,
  },
};
if (disk.compact_exit_status !== 0) anomalies.push(`memcached-lite compact exited with ${disk.compact_exit_status}: ${disk.compact_output}`);
if (disk.inspect_exit_status_after !== 0) anomalies.push(`memcached-lite inspect after compaction exited with ${disk.inspect_exit_status_after}`);

// ---------- checks on the build phase ----------
const sets = readJson(res('lite-sets.json'));
const spot = readJson(res('lite-spotcheck.json'));
if (spot && spot.bad) anomalies.push(`value spot check: ${spot.bad} of ${spot.sample} keys wrong (${spot.bad_keys.join(', ')})`);
const recoveredRe = /recovered (\d+) items from snapshot (\S+) \((\d+) items\) and (\d+) WAL records in (\d+) segments \((\d+) ms[^)]*\)/;
const asloadedProbe = readJson(res('lite-asloaded-probe.json'));
const am = recoveredRe.exec(readText(join(logDir, 'lite-asloaded.server.log')));
// `ls -l` lines of WAL segments holding records (size > 0) after load: the empty newest segment is expected.
const walAfterLoad = readText(join(logDir, 'lite-after-load.ls')).split('\n')
  .filter((l) => /\d{20}\.wal/.test(l) && Number(l.trim().split(/\s+/)[4]) > 0).map((l) => l.trim());
const compactAfterLoad = readText(join(logDir, 'lite-compact-after-load.log')).trim();
const writerProbe = readJson(res('lite-writer-probe.json'));
const writerLog = readText(join(logDir, 'lite-writer.server.log'));
const wm = recoveredRe.exec(writerLog);
if (walAfterLoad.length) anomalies.push(`\`load\` left its WAL segment in the data dir (${walAfterLoad.join('; ')}): a start right after load reads those covered records (ready in ${asloadedProbe?.ready_ms} ms vs ${writerProbe?.ready_ms} ms after an offline compact dropped them)`);

// ---------- targets ----------
const target = (name, value, op, threshold, valid, detail) => ({
  name, value, op, threshold, valid: Boolean(valid && value !== null),
  met: valid && value !== null ? (op === '<=' ? value <= threshold : value >= threshold) : null, detail,
});
const targets = {
  startup: target('start-up to first reply: memcached-lite / Redis (<= 1 means no slower)', r2(startup.lite.ready_ms_median / startup.redis.ready_ms_median), '<=', 1,
    startup.lite.valid && startup.redis.valid, `${startup.lite.ready_ms_median} ms vs ${startup.redis.ready_ms_median} ms (medians of ${startup.lite.rounds} rounds)`),
  memory: target('RSS with the items: memcached-lite / Redis', r2(startup.lite.rss_settled_mb_median / startup.redis.rss_settled_mb_median), '<=', 1.5,
    startup.lite.valid && startup.redis.valid, `${startup.lite.rss_settled_mb_median} MB vs ${startup.redis.rss_settled_mb_median} MB`),
  snapshot_p99: target('GET p99 during a snapshot / without', r2(latency.during_p99_ms_median / latency.baseline_p99_ms_median), '<=', 2,
    latency.valid, `${latency.during_p99_ms_median} ms vs ${latency.baseline_p99_ms_median} ms (per round: ${latencyRounds.map((r) => r.p99_ratio).join(', ')})`),
  snapshot_stall: target('longest stall while a snapshot is written (ms)', latency.longest_stall_ms, '<=', 50,
    latency.valid, `client-side reply gap ${latency.longest_client_reply_gap_ms} ms, server event-loop delay ${latency.longest_server_eld_ms} ms; generator's own max delay ${latency.generator_eld_max_ms} ms`),
  disk: target('data dir after compaction (minus wal/reserve) / newest snapshot', disk.after_compact?.ratio ?? null, '<=', 2,
    disk.compact_exit_status === 0 && disk.after_compact, disk.after_compact && `${disk.after_compact.du_minus_reserve_bytes} B vs ${disk.after_compact.newest_snapshot_bytes} B (${disk.after_compact.snapshot_files} snapshot files, ${disk.after_compact.wal_segment_bytes_total} B of WAL segments)`),
};

// ---------- machine ----------
const sh = (cmd) => { try { return execSync(cmd, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(); } catch { return null; } };
const machine = {
  nproc: Number(sh('nproc')), uname: sh('uname -a'), node: process.version, date: new Date().toISOString(),
  cpu_model: os.cpus()[0]?.model ?? null, mem_total_mb: Math.round(os.totalmem() / 2 ** 20),
  loadavg_start: Number(meta.load1_start), loadavg_end: Number(meta.load1_end),
  data_dir_filesystem: meta.data_dir_fs, os_release: sh('. /etc/os-release && echo "$PRETTY_NAME"'),
  tools: { redis_server: sh('redis-server --version'), redis_cli: sh('redis-cli --version') },
  git: { commit: sh(`git -C ${repoRoot} rev-parse HEAD`), dirty_tracked_files: Number(sh(`git -C ${repoRoot} status --porcelain --untracked-files=no | wc -l`)) },
};

const results = {
  benchmark: 'step2',
  description: 'memcached-lite snapshots (issue 3): start-up from snapshot + WAL, RSS, GET latency while a snapshot is written, data dir size after compaction; Redis 7 appendonly yes as the peer',
  config: {
    quick: meta.quick === '1', items: ITEMS, updates_in_wal: UPDATES, key_bytes: 16, value_bytes: 50,
    startup_rounds: Number(meta.rounds), latency_rounds: Number(meta.snap_rounds), get_duration_s: Number(meta.get_duration_s),
    pre_s: Number(meta.pre_s), post_s: Number(meta.post_s), settle_s: Number(meta.settle_s), conns: Number(meta.conns),
    fsync: meta.fsync, lite_memory_limit_mb: Number(meta.mem_mb), server_cpu: Number(meta.server_cpu), load_cpu: Number(meta.load_cpu),
    lite_bin: meta.lite_bin, lite_dist_sha256_16: meta.dist_sha, started: meta.started, finished: meta.finished, total_s: Number(meta.total_s),
    redis_flags: `--appendonly yes --appendfsync ${meta.fsync} --save '' --auto-aof-rewrite-percentage 0 (aof-use-rdb-preamble ${meta.redis_rdb_preamble})`,
    lite_flags: `--fsync ${meta.fsync} -m ${meta.mem_mb} --snapshot-interval 86400`,
  },
  build: {
    data_set: readJson(res('gen.json')),
    lite_load_ms: Number(meta.lite_load_ms), lite_load_output: readText(join(logDir, 'lite-load.log')).trim(),
    lite_start_as_loaded: asloadedProbe && {
      note: 'state exactly as `load` left it: snapshot + the WAL segment load wrote (all records covered by the snapshot, still read at start-up)',
      wal_files_after_load: walAfterLoad, ready_ms: asloadedProbe.ready_ms, internal_recovery_ms: am ? +am[6] : null, recovered_line: am?.[0] ?? null,
    },
    lite_compact_after_load_output: compactAfterLoad,
    lite_first_start_snapshot_only: writerProbe && { ready_ms: writerProbe.ready_ms, internal_recovery_ms: wm ? +wm[6] : null, recovered_line: wm?.[0] ?? null },
    lite_update_sets: sets,
    lite_value_spot_check: spot,
    redis_pipe_load_ms: Number(meta.redis_pipe_load_ms), redis_bgrewriteaof_ms: Number(meta.redis_rewrite_ms),
    redis_aof_files: Object.fromEntries(Object.entries(meta).filter(([k]) => k.startsWith('redis_file_')).map(([k, v]) => [k.slice(11), Number(v)])),
  },
  machine,
  targets,
  startup,
  latency,
  disk,
  startup_runs: startups.map((s) => ({ ...s, log: rel(s.log) })),
  anomalies,
};
mkdirSync(dirname(outPath), { recursive: true });
writeFileSync(outPath, JSON.stringify(results, null, 2) + '\n');

// ---------- table ----------
const f = (x, d = 1) => (x === null || x === undefined ? '-' : typeof x === 'number' ? x.toFixed(d) : String(x));
const L = [];
L.push(`step2 (${results.config.quick ? 'QUICK, ' : ''}${ITEMS.toLocaleString('en')} items + ${UPDATES.toLocaleString('en')} WAL records; fsync ${meta.fsync}; server CPU ${meta.server_cpu}, clients CPU ${meta.load_cpu}; ${results.config.total_s} s)`);
L.push('');
L.push('                                     memcached-lite        Redis 7 (AOF)');
L.push(`start-up: to log line (ms)           ${f(startup.lite.log_line_ms_median).padStart(14)}   ${f(startup.redis.log_line_ms_median).padStart(18)}`);
L.push(`start-up: to first reply (ms)        ${f(startup.lite.ready_ms_median).padStart(14)}   ${f(startup.redis.ready_ms_median).padStart(18)}   per round: ${startup.lite.ready_ms_by_round.join('/')} vs ${startup.redis.ready_ms_by_round.join('/')}`);
L.push(`start-up: server's own figure (ms)   ${f(startup.lite.internal_recovery_ms_median, 0).padStart(14)}   ${f(startup.redis.internal_recovery_ms_median, 0).padStart(18)}`);
L.push(`memcached-lite start, snapshot only (no WAL after it): ${f(results.build.lite_first_start_snapshot_only?.ready_ms)} ms; as \`load\` left the dir (snapshot + the covered WAL it wrote): ${f(results.build.lite_start_as_loaded?.ready_ms)} ms`);
L.push(`RSS settled (MB)                     ${f(startup.lite.rss_settled_mb_median).padStart(14)}   ${f(startup.redis.rss_settled_mb_median).padStart(18)}`);
L.push(`RSS at ready / VmHWM (MB)            ${`${f(startup.lite.rss_ready_mb_median)} / ${f(startup.lite.vmhwm_mb_max)}`.padStart(14)}   ${`${f(startup.redis.rss_ready_mb_median)} / ${f(startup.redis.vmhwm_mb_max)}`.padStart(18)}`);
L.push(`RSS bytes/item (net of empty server) ${`${f(startup.lite.rss_bytes_per_item, 0)} (${f(startup.lite.rss_net_bytes_per_item, 0)})`.padStart(14)}   ${`${f(startup.redis.rss_bytes_per_item, 0)} (${f(startup.redis.rss_net_bytes_per_item, 0)})`.padStart(18)}`);
L.push('');
L.push(`GET x${latency.conns} on memcached-lite      p50 ms   p99 ms   max ms   gets/s   longest reply gap   server loop delay`);
for (const r of latencyRounds) {
  const b = r.baseline, d = r.during_snapshot;
  if (b) L.push(`  round ${r.round} without snapshot     ${f(b.p50_ms, 2).padStart(6)}   ${f(b.p99_ms, 2).padStart(6)}   ${f(b.max_ms).padStart(6)}   ${String(b.gets_per_s).padStart(6)}   ${f(b.max_reply_gap_ms).padStart(10)} ms   ${f(b.server_eld_max_ms).padStart(10)} ms`);
  if (d) L.push(`  round ${r.round} during snapshot      ${f(d.p50_ms, 2).padStart(6)}   ${f(d.p99_ms, 2).padStart(6)}   ${f(d.max_ms).padStart(6)}   ${String(d.gets_per_s).padStart(6)}   ${f(d.max_reply_gap_ms).padStart(10)} ms   ${f(d.server_eld_max_ms).padStart(10)} ms   (snapshot ${d.snapshot_server_ms} ms)`);
}
L.push('');
if (disk.after_compact) {
  const a = disk.after_compact, b = disk.before_compact;
  L.push(`data dir before compact: ${b.du_minus_reserve_bytes} B (du ${b.du_bytes} - reserve ${b.reserve_bytes}); ${b.snapshot_files} snapshot(s) ${b.snapshot_bytes_total} B, WAL ${b.wal_segment_bytes_total} B`);
  L.push(`data dir after compact:  ${a.du_minus_reserve_bytes} B (du ${a.du_bytes} - reserve ${a.reserve_bytes}); ${a.snapshot_files} snapshot(s) ${a.snapshot_bytes_total} B, WAL ${a.wal_segment_bytes_total} B; newest snapshot ${a.newest_snapshot_bytes} B`);
  L.push(`Redis AOF dir: ${disk.redis_context.aof_dir_bytes_base_plus_increment} B (base + increment), ${disk.redis_context.aof_dir_bytes_after_bgrewriteaof} B after BGREWRITEAOF`);
}
L.push('');
L.push('targets:');
for (const t of Object.values(targets)) {
  const v = !t.valid ? 'NOT MEASURABLE (invalid data)' : t.met ? 'met' : 'NOT met';
  L.push(`  ${t.name}: ${t.value ?? '-'} (target ${t.op} ${t.threshold}: ${v}) - ${t.detail}`);
}
if (anomalies.length) { L.push(''); L.push('anomalies:'); for (const a of anomalies) L.push(`  - ${a}`); }
L.push('');
L.push(`results: ${rel(outPath)}`);
console.log(L.join('\n'));
