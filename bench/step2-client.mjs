#!/usr/bin/env node
// bench/step2-client.mjs SUBCOMMAND [--name value ...]
//
// Small dependency-free clients for bench/step2.sh. Each prints one JSON
// object on stdout (diagnostics on stderr) and exits 0 on success.
//
//   sets    --port P --items N --updates U [--conns 4] [--depth 512]
//           Sends the U update SETs of step2-data.mjs (generation-1 values of
//           distinct keys) to memcached-lite, pipelined (up to `depth`
//           requests in flight per connection), and waits for every reply.
//           memcached-lite holds a reply until the record is durable, so
//           when this returns all U records are in the WAL. Fails unless
//           every reply is STORED.
//
//   ready   --proto mc|redis --port P --armed FILE --go FILE --log FILE
//           --pattern REGEX [--timeout S]
//           Start-up prober. Creates FILE `armed` once it runs, then polls
//           127.0.0.1:P (connect every ~1 ms; `version` for mc, `PING` for
//           redis, repeated while Redis answers -LOADING) and the server's
//           log for REGEX. The caller takes t0 ($EPOCHREALTIME) right before
//           it spawns the server and writes "t0 pid" into FILE `go`. Reports,
//           relative to t0: log_line_ms (prober saw the log line), accept_ms
//           (first accepted TCP connection), ready_ms (first successful
//           reply), and for memcached-lite the log line's own timestamp
//           (log_stamp_ms; 1 ms resolution).
//
//   getload --port P --items N --duration S [--conns 50] [--warmup 1]
//           [--snapshot-pid PID --log FILE --pre S --post S --timeout S]
//           GET load: `conns` persistent connections, one `get` in flight
//           per connection, uniformly random keys among the N items, each
//           request timed with performance.now() (monotonic, sub-us).
//           Without --snapshot-pid: warm up, then measure `duration` s.
//           With it: warm up, measure `pre` s, send SIGUSR2 to PID, watch
//           the log for the "snapshot <name>: N items in T ms" line, then
//           measure `post` s more. Requests are attributed to the snapshot
//           window if they overlap [SIGUSR2 sent, completion line seen].
//           Stalls are seen from the client side as the longest gap between
//           two replies on one connection (with one request always in flight
//           on every connection, a gap is time the server did not answer that
//           connection), and as the longest single request. The generator's
//           own event-loop delay is reported too (a generator pause would
//           look like a server stall).
//
//   mcstats --port P       memcached `stats` as a JSON object
//   mcget   --port P --items N --updates U [--sample 200]
//           Spot check: GETs `sample` keys and compares their values with the
//           data set (updated keys must carry the generation-1 value).

import net from 'node:net';
import { existsSync, readFileSync, writeFileSync, openSync, readSync, fstatSync, closeSync } from 'node:fs';
import { monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';
import { key, value, updateIndex, rng } from './step2-data.mjs';

const [cmd, ...rest] = process.argv.slice(2);
const args = {};
for (let i = 0; i < rest.length; i += 2) {
  if (!rest[i].startsWith('--')) fail(`bad argument ${rest[i]}`);
  args[rest[i].slice(2)] = rest[i + 1];
}

/** Reads the complete lines appended to an open log file since the last call (starting at byte `pos`). */
function followLog(fd, pos) {
  let tail = '';
  return () => {
    const size = fstatSync(fd).size;
    if (size <= pos) return [];
    const buf = Buffer.alloc(size - pos);
    readSync(fd, buf, 0, buf.length, pos);
    pos = size;
    tail += buf.toString('utf8');
    const lines = tail.split('\n');
    tail = lines.pop();
    return lines;
  };
}
function fail(msg) { process.stderr.write(`step2-client ${cmd ?? ''}: ${msg}\n`); process.exit(1); }
const numArg = (name, dflt) => {
  const v = args[name];
  if (v === undefined) { if (dflt === undefined) fail(`--${name} is required`); return dflt; }
  const x = Number(v);
  if (!Number.isFinite(x)) fail(`--${name}: not a number: ${v}`);
  return x;
};
const wall = () => performance.timeOrigin + performance.now(); // ms since epoch, sub-ms
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');

function connect(port) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => { s.setNoDelay(true); s.removeListener('error', reject); resolve(s); });
    s.once('error', reject);
  });
}

// ------------------------------------------------------------------ sets
async function sets() {
  const port = numArg('port'), n = numArg('items'), updates = numArg('updates');
  const conns = numArg('conns', 4), depth = numArg('depth', 512);
  const t0 = performance.now();
  let stored = 0;
  const errors = [];
  const runConn = async (c) => {
    const s = await connect(port);
    const mine = [];
    for (let j = c; j < updates; j += conns) mine.push(j);
    let sent = 0, got = 0, tail = '';
    await new Promise((resolve, reject) => {
      const pump = () => {
        let chunk = '';
        while (sent < mine.length && sent - got < depth) {
          const i = updateIndex(mine[sent], n);
          const v = value(i, 1);
          chunk += `set ${key(i)} 0 0 ${v.length}\r\n${v}\r\n`;
          sent++;
        }
        if (chunk) s.write(chunk, 'latin1');
      };
      s.on('data', (d) => {
        tail += d.toString('latin1');
        let at;
        while ((at = tail.indexOf('\r\n')) >= 0) {
          const line = tail.slice(0, at);
          tail = tail.slice(at + 2);
          got++;
          if (line === 'STORED') stored++;
          else if (errors.length < 20) errors.push(line);
          else errors.length++;
        }
        if (got === mine.length) { s.end(); resolve(); } else if (sent - got <= depth / 2) pump();
      });
      s.on('error', reject);
      s.on('close', () => { if (got < mine.length) reject(new Error(`connection ${c} closed after ${got}/${mine.length} replies`)); });
      if (mine.length === 0) { s.end(); resolve(); } else pump();
    });
  };
  await Promise.all(Array.from({ length: conns }, (_, c) => runConn(c)));
  const ms = performance.now() - t0;
  out({ updates, stored, errors: errors.filter(Boolean), error_count: errors.length, ms: +ms.toFixed(1), sets_per_s: Math.round(updates / (ms / 1000)) });
  if (stored !== updates) process.exit(1);
}

// ------------------------------------------------------------------ ready
async function ready() {
  const proto = args.proto, port = numArg('port'), timeoutS = numArg('timeout', 300);
  const armed = args.armed, go = args.go, logPath = args.log, pattern = new RegExp(args.pattern);
  if (!['mc', 'redis'].includes(proto) || !armed || !go || !logPath) fail('--proto mc|redis --armed --go --log --pattern are required');
  writeFileSync(armed, `${process.pid}\n`);
  const started = wall();
  let t0 = null, pid = null;
  let acceptAt = null, readyAt = null, logAt = null, logStamp = null, loadingReplies = 0, attempts = 0, lastReply = null;
  let logFd = null, follower = null;

  const readGo = () => {
    if (t0 !== null || !existsSync(go)) return;
    const parts = readFileSync(go, 'utf8').trim().split(/\s+/);
    if (parts.length >= 2) { t0 = Number(parts[0]) * 1000; pid = Number(parts[1]); }
  };
  const pollLog = () => {
    if (logAt !== null) return;
    try {
      if (follower === null) { if (!existsSync(logPath)) return; logFd = openSync(logPath, 'r'); follower = followLog(logFd, 0); }
      for (const line of follower()) {
        if (pattern.test(line)) {
          logAt = wall();
          const m = /^\[memcached-lite (\d{4}-\d\d-\d\dT[\d:.]+Z)\]/.exec(line);
          if (m) logStamp = Date.parse(m[1]);
          break;
        }
      }
    } catch { /* not there yet */ }
  };
  const logTimer = setInterval(pollLog, 1);

  const probe = () => new Promise((resolve) => {
    attempts++;
    const s = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    let done = false;
    const finish = (ok) => { if (done) return; done = true; s.destroy(); resolve(ok); };
    const send = () => s.write(proto === 'mc' ? 'version\r\n' : 'PING\r\n');
    s.once('connect', () => { acceptAt ??= wall(); s.setNoDelay(true); send(); });
    s.on('data', (d) => {
      buf += d.toString('latin1');
      const at = buf.indexOf('\r\n');
      if (at < 0) return;
      const line = buf.slice(0, at);
      buf = buf.slice(at + 2);
      lastReply = line;
      if ((proto === 'mc' && line.startsWith('VERSION ')) || (proto === 'redis' && line === '+PONG')) { readyAt = wall(); finish(true); return; }
      if (line.startsWith('-LOADING')) loadingReplies++;
      setTimeout(send, 1); // -LOADING (or anything else): ask again
    });
    s.on('error', () => finish(false));
    s.on('close', () => finish(false));
  });

  const deadline = started + timeoutS * 1000;
  while (readyAt === null) {
    if (wall() > deadline) { clearInterval(logTimer); fail(`no ready reply within ${timeoutS}s (attempts ${attempts}, last reply ${lastReply})`); }
    readGo();
    if (pid !== null) { try { process.kill(pid, 0); } catch { clearInterval(logTimer); fail(`server PID ${pid} died before it was ready`); } }
    const ok = await probe();
    if (!ok) await sleep(1);
  }
  // the log line normally precedes the reply; give it a moment if not seen yet
  for (let i = 0; i < 2000 && logAt === null; i++) { pollLog(); await sleep(1); }
  clearInterval(logTimer);
  if (logFd !== null) closeSync(logFd);
  for (let i = 0; i < 2000 && t0 === null; i++) { readGo(); if (t0 === null) await sleep(1); }
  if (t0 === null) fail('never got t0 from the go file');
  const rel = (t) => (t === null ? null : +(t - t0).toFixed(2));
  out({
    proto, port, pid, prober_armed_before_spawn_ms: +(t0 - started).toFixed(2),
    log_line_ms: rel(logAt), log_stamp_ms: rel(logStamp), accept_ms: rel(acceptAt), ready_ms: rel(readyAt),
    connect_attempts: attempts, loading_replies: loadingReplies,
  });
}

// ------------------------------------------------------------------ getload
function percentile(sorted, p) {
  if (!sorted.length) return null;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx];
}
function summarize(lat) {
  const a = Float64Array.from(lat).sort();
  const r3 = (x) => (x === null ? null : +x.toFixed(3));
  let sum = 0;
  for (const x of a) sum += x;
  return {
    requests: a.length,
    p50_ms: r3(percentile(a, 50)), p90_ms: r3(percentile(a, 90)), p99_ms: r3(percentile(a, 99)),
    p999_ms: r3(percentile(a, 99.9)), max_ms: r3(a.length ? a[a.length - 1] : null), mean_ms: r3(a.length ? sum / a.length : null),
  };
}

async function getload() {
  const port = numArg('port'), n = numArg('items'), duration = numArg('duration', 8);
  const conns = numArg('conns', 50), warmup = numArg('warmup', 1);
  const snapPid = args['snapshot-pid'] ? Number(args['snapshot-pid']) : null;
  const pre = numArg('pre', 2), post = numArg('post', 2), timeoutS = numArg('timeout', 300);
  const logPath = args.log;
  if (snapPid && !logPath) fail('--snapshot-pid needs --log');

  // generator self-check: its own event-loop delay and GC pauses
  const eldResolutionMs = 1;
  const eld = monitorEventLoopDelay({ resolution: eldResolutionMs });
  eld.enable();
  let genGcMax = 0, genGcCount = 0;
  const gcObs = new PerformanceObserver((list) => { for (const e of list.getEntries()) { genGcCount++; if (e.duration > genGcMax) genGcMax = e.duration; } });
  gcObs.observe({ entryTypes: ['gc'] });

  const cap = 8_000_000;
  const startT = new Float64Array(cap), lat = new Float32Array(cap);
  let count = 0, misses = 0, errors = 0, recording = false, stopping = false;
  const gaps = []; // [gap_ms, at_ms(perf), conn]
  let maxGapRec = { gap: 0, at: 0 };
  const keys = new Array(n);
  for (let i = 0; i < n; i++) keys[i] = `get ${key(i)}\r\n`;
  const expectLen = (i) => `VALUE ${key(i)} 0 50\r\n`.length + 50 + 2 + 5;

  const sockets = [];
  const runConn = async (c) => {
    const s = await connect(port);
    sockets.push(s);
    const rand = rng(0x9e3779b9 ^ (c * 2654435761));
    let cur = -1, sentAt = 0, lastReplyAt = 0, buf = '';
    const send = () => {
      if (stopping) return;
      cur = rand() % n;
      sentAt = performance.now();
      s.write(keys[cur], 'latin1');
    };
    s.on('data', (d) => {
      buf += d.toString('latin1');
      if (!buf.endsWith('END\r\n')) return;
      const now = performance.now();
      if (buf === 'END\r\n') misses++;
      else if (buf.length !== expectLen(cur) || !buf.startsWith('VALUE ')) errors++;
      buf = '';
      if (recording) {
        if (count < cap) { startT[count] = sentAt; lat[count] = now - sentAt; count++; }
        if (lastReplyAt) {
          const g = now - lastReplyAt;
          if (g > maxGapRec.gap) maxGapRec = { gap: g, at: now };
          if (g >= 20) gaps.push([g, now, c]);
        }
      }
      lastReplyAt = now;
      send();
    });
    s.on('error', (e) => { if (!stopping) { errors++; process.stderr.write(`conn ${c}: ${e.message}\n`); } });
    send();
  };
  await Promise.all(Array.from({ length: conns }, (_, c) => runConn(c)));
  await sleep(warmup * 1000);
  eld.reset();
  recording = true;
  const t1 = performance.now();
  let sigAt = null, doneAt = null, snapshotLine = null;
  if (!snapPid) {
    await sleep(duration * 1000);
  } else {
    let pos = 0;
    try { pos = fstatSync(openSync(logPath, 'r')).size; } catch { /* empty */ }
    await sleep(pre * 1000);
    const fd = openSync(logPath, 'r');
    pos = Math.max(pos, 0);
    sigAt = performance.now();
    process.kill(snapPid, 'SIGUSR2');
    const newLines = followLog(fd, pos);
    const deadline = sigAt + timeoutS * 1000;
    while (doneAt === null) {
      for (const line of newLines()) {
        if (/snapshot \S+: \d+ items in \d+ ms|snapshot failed/.test(line)) { doneAt = performance.now(); snapshotLine = line; break; }
      }
      if (doneAt === null) {
        if (performance.now() > deadline) { snapshotLine = `(no completion line within ${timeoutS}s)`; doneAt = performance.now(); break; }
        await sleep(5);
      }
    }
    closeSync(fd);
    await sleep(post * 1000);
  }
  const t2 = performance.now();
  recording = false;
  stopping = true;
  eld.disable();
  gcObs.disconnect();
  for (const s of sockets) s.destroy();

  const all = [], inWin = [], outWin = [];
  for (let i = 0; i < count; i++) {
    const st = startT[i], l = lat[i];
    all.push(l);
    if (sigAt !== null) {
      if (st < doneAt && st + l > sigAt) inWin.push(l); else outWin.push(l);
    }
  }
  const wallS = (t2 - t1) / 1000;
  const r1 = (x) => +x.toFixed(1);
  const result = {
    mode: snapPid ? 'snapshot' : 'baseline', conns, items: n, measured_s: +wallS.toFixed(2),
    gets_per_s: Math.round(count / wallS), misses, errors,
    all: summarize(all),
    max_reply_gap_ms: r1(maxGapRec.gap), max_reply_gap_at_s: r1((maxGapRec.at - t1) / 1000),
    measured_from_wall_ms: Math.round(performance.timeOrigin + t1), measured_to_wall_ms: Math.round(performance.timeOrigin + t2),
    gaps_over_20ms: gaps.length,
    // histogram values are timer intervals (resolution included): delay = value - resolution
    generator: { eld_max_ms: r1(Math.max(0, eld.max / 1e6 - eldResolutionMs)), eld_p99_ms: r1(Math.max(0, eld.percentile(99) / 1e6 - eldResolutionMs)), gc_max_ms: r1(genGcMax), gc_count: genGcCount },
  };
  if (snapPid) {
    const winMs = doneAt - sigAt;
    const inGaps = gaps.filter(([, at]) => at > sigAt && at < doneAt + 1000);
    result.snapshot = {
      line: snapshotLine, window_ms: r1(winMs),
      signal_wall_ms: Math.round(performance.timeOrigin + sigAt), done_wall_ms: Math.round(performance.timeOrigin + doneAt), signal_at_s: r1((sigAt - t1) / 1000), done_at_s: r1((doneAt - t1) / 1000),
      during: summarize(inWin), outside: summarize(outWin),
      gets_per_s_during: winMs > 0 ? Math.round(inWin.length / (winMs / 1000)) : null,
      // a gap is attributed to the snapshot if the reply ending it came after the signal and before completion (+1 s grace)
      max_reply_gap_ms: r1(inGaps.reduce((m, [g]) => Math.max(m, g), 0)),
      top_gaps: inGaps.sort((a, b) => b[0] - a[0]).slice(0, 10).map(([g, at, c]) => ({ gap_ms: r1(g), ended_ms_after_signal: r1(at - sigAt), conn: c })),
    };
  }
  result.top_gaps_all = gaps.sort((a, b) => b[0] - a[0]).slice(0, 10).map(([g, at, c]) => ({ gap_ms: r1(g), ended_at_s: r1((at - t1) / 1000), conn: c }));
  out(result);
  if (errors) process.exit(1);
}

// ------------------------------------------------------------------ mcstats / mcget
function mcRequest(port, text, endRe) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    const timer = setTimeout(() => { s.destroy(); reject(new Error('timeout')); }, 30000);
    s.on('connect', () => s.write(text));
    s.on('data', (d) => { buf += d.toString('latin1'); if (endRe.test(buf)) { clearTimeout(timer); s.end(); resolve(buf); } });
    s.on('error', (e) => { clearTimeout(timer); reject(e); });
  });
}
async function mcstats() {
  const text = await mcRequest(numArg('port'), 'stats\r\n', /END\r\n$/);
  const o = {};
  for (const line of text.split('\r\n')) {
    const m = /^STAT (\S+) (.*)$/.exec(line);
    if (m) o[m[1]] = /^-?\d+(\.\d+)?$/.test(m[2]) ? Number(m[2]) : m[2];
  }
  out(o);
}
async function mcget() {
  const port = numArg('port'), n = numArg('items'), updates = numArg('updates'), sample = numArg('sample', 200);
  const updated = new Set();
  for (let j = 0; j < updates; j++) updated.add(updateIndex(j, n));
  const rand = rng(424242);
  let ok = 0, bad = 0;
  const badKeys = [];
  for (let t = 0; t < sample; t++) {
    const i = t < 20 && updates > 0 ? updateIndex(t, n) : rand() % n;
    const reply = await mcRequest(port, `get ${key(i)}\r\n`, /END\r\n$/);
    const want = value(i, updated.has(i) ? 1 : 0);
    if (reply === `VALUE ${key(i)} 0 50\r\n${want}\r\nEND\r\n`) ok++; else { bad++; if (badKeys.length < 5) badKeys.push(key(i)); }
  }
  out({ sample, ok, bad, bad_keys: badKeys });
  if (bad) process.exit(1);
}

const commands = { sets, ready, getload, mcstats, mcget };
if (!commands[cmd]) fail(`unknown subcommand; one of ${Object.keys(commands).join(', ')}`);
commands[cmd]().catch((e) => fail(e.stack ?? String(e)));
