#!/usr/bin/env bash
# bench/step2.sh - issue 3's targets for snapshots, in one run: start-up time,
# resident memory, GET latency while a snapshot is written, and the data
# directory size after compaction. 1,000,000 items (16-byte keys, 50-byte
# values); Redis 7 with `appendonly yes` is the peer where there is one.
#
#   npm run build && bash bench/step2.sh          # full run, about 3 minutes
#   QUICK=1 bash bench/step2.sh                   # smoke run, 100,000 items, about 30 s
#
# Output: bench/out/step2-results.json (every figure, ratios, targets met or
# not, machine info), raw logs and per-measurement JSON in bench/out/step2-logs/,
# and a table on stdout.
#
# Data set (bench/step2-data.mjs): key i is "key:" + 12 digits (16 bytes),
# its value 50 printable bytes; the update pass overwrites UPDATES distinct
# keys (stride 7919 over the key space) with new 50-byte values, so both
# servers end with exactly ITEMS items, byte for byte the same.
#
# What is built (each server pinned to CPU $SERVER_CPU, every client, prober
# and load generator to CPU $LOAD_CPU, all on 127.0.0.1, free ports, one
# `mktemp -d` work dir, every process stopped by its PID, trap on exit):
#   memcached-lite: `memcached-lite load --data-dir D dump.jsonl` (WAL records
#     + a snapshot of ITEMS items; load drops the WAL segment it wrote once
#     the snapshot covers it). After one start of that state (reported as
#     "as loaded") and an offline `memcached-lite compact`, a server on D gets the
#     UPDATES sets from a pipelined Node client (step2-client.mjs sets;
#     replies are held until durable, so every record is in the WAL when it
#     returns) and is stopped with SIGKILL: D now holds a snapshot of ITEMS
#     items plus UPDATES WAL records after it. The server runs from a private
#     copy of bin/ + dist/ taken at the start (others may rebuild dist/
#     meanwhile); its hash is in the results.
#   Redis: redis-server --appendonly yes --appendfsync $FSYNC --save ''
#     --auto-aof-rewrite-percentage 0 (no automatic rewrite, so the increment
#     stays); redis-cli --pipe loads the ITEMS SETs, BGREWRITEAOF puts them in
#     the AOF base (Redis 7 multi-part AOF, default aof-use-rdb-preamble yes,
#     so the base is RDB-encoded), redis-cli --pipe sends the same UPDATES
#     SETs into the increment file, SIGKILL.
#
# Measurements:
#  1. start-up (ROUNDS rounds, order alternating): a prober (step2-client.mjs
#     ready) is started first; t0 = $EPOCHREALTIME right before the server is
#     spawned; reported: time to the log line ("listening on" / Redis "Ready
#     to accept connections") and to the first successful reply (`version` /
#     `PING` -> +PONG, retried while Redis answers -LOADING). Each start is
#     checked (curr_items / DBSIZE = ITEMS, the recovery line names UPDATES WAL
#     records) and ended with SIGKILL, so every round starts from the same
#     files. Page cache is warm for both (files just written).
#  2. memory: VmRSS (/proc/PID/status) of those same processes SETTLE_S
#     seconds after they answered (and right at ready, and VmHWM); per-item
#     bytes = RSS / ITEMS, and net of an empty server's RSS.
#  3. GET latency while a snapshot is written: a fresh memcached-lite start on
#     the same data (preloaded with bench/step2-eld.mjs via NODE_OPTIONS: it
#     only records event-loop delay and GC pauses to a file); step2-client.mjs
#     getload with 50 connections, one get in flight each, random keys among
#     the ITEMS: SNAP_ROUNDS x (a baseline run of GET_DUR s, then a run that
#     sends SIGUSR2 after PRE_S s and ends POST_S s after the "snapshot ...
#     items in ... ms" line). Latency during = requests overlapping [SIGUSR2,
#     completion line]. Longest stall = longest gap between replies on one
#     connection (client side) and the event-loop delay recorded in the server.
#     Then SIGTERM (clean shutdown, exit status checked).
#  4. data directory after compaction: `memcached-lite compact --data-dir D`
#     on the directory all of the above left; du -sb D minus wal/reserve (the
#     fixed 16 MB disk-full reserve) vs the size of the newest snapshot file
#     (the live data). Redis's AOF directory after a BGREWRITEAOF of the same
#     data is recorded for context.
#
# Knobs (environment): QUICK=1, ITEMS, UPDATES, ROUNDS, SNAP_ROUNDS, GET_DUR,
# PRE_S, POST_S, SETTLE_S, CONNS, FSYNC (always|everysec|no, both servers),
# MEM_MB (memcached-lite -m, default here 2048: each item is charged a
# 152-byte chunk, so the server's default -m 64 would evict over half of 1M),
# SERVER_CPU, LOAD_CPU, LITE_BIN, OUT_DIR, KEEP_WORK=1 (keep the work dir).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH="$ROOT/bench"
OUT_DIR=${OUT_DIR:-$BENCH/out}
LOG_DIR="$OUT_DIR/step2-logs"
QUICK=${QUICK:-0}
if [[ "$QUICK" == 1 ]]; then
  ITEMS=${ITEMS:-100000}; UPDATES=${UPDATES:-10000}; ROUNDS=${ROUNDS:-1}; SNAP_ROUNDS=${SNAP_ROUNDS:-1}
  GET_DUR=${GET_DUR:-3}; PRE_S=${PRE_S:-1}; POST_S=${POST_S:-1}; SETTLE_S=${SETTLE_S:-1}
else
  ITEMS=${ITEMS:-1000000}; UPDATES=${UPDATES:-100000}; ROUNDS=${ROUNDS:-3}; SNAP_ROUNDS=${SNAP_ROUNDS:-2}
  GET_DUR=${GET_DUR:-8}; PRE_S=${PRE_S:-2}; POST_S=${POST_S:-2}; SETTLE_S=${SETTLE_S:-3}
fi
CONNS=${CONNS:-50}
FSYNC=${FSYNC:-always}
MEM_MB=${MEM_MB:-2048}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
LITE_BIN=${LITE_BIN:-$ROOT/bin/memcached-lite}
CLIENT="$BENCH/step2-client.mjs"

die() { echo "step2: $*" >&2; exit 1; }
note() { echo "step2: $(date +%H:%M:%S) $*" >&2; }

for tool in redis-server redis-cli taskset node timeout du; do
  command -v "$tool" >/dev/null 2>&1 || die "missing tool: $tool (apt-get install redis-server)"
done
[[ -x "$LITE_BIN" ]] || die "no server binary at $LITE_BIN"
if [[ "$LITE_BIN" == "$ROOT/bin/memcached-lite" ]]; then
  [[ -f "$ROOT/dist/server.mjs" ]] || die "dist/server.mjs missing: run 'npm run build' first"
  if [[ -n "$(find "$ROOT/src" -newer "$ROOT/dist/server.mjs" -name '*.ts' -print -quit 2>/dev/null)" ]]; then
    note "warning: src/ has files newer than dist/server.mjs (run 'npm run build' to measure the current source)"
  fi
fi
case "$FSYNC" in always|everysec|no) ;; *) die "FSYNC must be always, everysec or no" ;; esac
[[ $(nproc) -ge 2 ]] || note "warning: fewer than 2 CPUs; server and load generator will share a core"
[[ -n "${EPOCHREALTIME:-}" ]] || die "bash 5 needed (\$EPOCHREALTIME)"

mkdir -p "$OUT_DIR"
rm -rf "$LOG_DIR"
mkdir -p "$LOG_DIR"
RES="$LOG_DIR/results"        # one JSON (lines) file per kind of measurement
mkdir -p "$RES"
META="$LOG_DIR/meta.env"

# ---- process and temp-dir bookkeeping (PIDS, TMPDIRS, cleanup, forget_pid, free_port, private_build)
# shellcheck source=bench/lib.sh
source "$BENCH/lib.sh"

load1() { cut -d' ' -f1 /proc/loadavg; }
# VmRSS / VmHWM of a PID in kB
vm_kb() { awk -v k="$2:" '$1==k{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
now_ms() { local t=$EPOCHREALTIME; echo $(( ${t%.*} * 1000 + 10#${t#*.} / 1000 )); }
rcli() { redis-cli -h 127.0.0.1 -p "$1" "${@:2}"; }
redis_info() { rcli "$1" info "$2" | tr -d '\r' | awk -F: -v k="$3" '$1==k{print $2}'; }
# the same, as a JSON number or null
redis_num() { local v; v=$(redis_info "$@"); [[ "$v" =~ ^[0-9]+$ ]] && echo "$v" || echo null; }

# jiffies of the server's and the load CPU as JSON: [busy, total, steal] each (busy = user+nice+system+irq+softirq)
cpu_snap() { awk -v a="cpu$SERVER_CPU" -v b="cpu$LOAD_CPU" '$1==a||$1==b{printf "%s\"%s\":[%d,%d,%d]", (n++ ? "," : "{"), $1, $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8+$9, $9} END{print "}"}' /proc/stat; }
# utime+stime jiffies of a PID
proc_jiffies() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mcl-step2.XXXXXX"); TMPDIRS+=("$WORK")
GEN="$WORK/gen"; LITE_DIR="$WORK/lite-data"; REDIS_DIR="$WORK/redis-data"
mkdir -p "$GEN" "$REDIS_DIR"

# Run a private copy of the build: others may rebuild dist/ while this runs,
# and every measurement must use the same code.
if [[ "$LITE_BIN" == "$ROOT/bin/memcached-lite" ]]; then
  private_build "$ROOT" "$WORK"
  LITE_BIN="$APP/bin/memcached-lite"
else
  DIST_SHA=unknown
fi

# ---- server start/stop -------------------------------------------------------
SRV_PID=; SRV_PORT=; SRV_LOG=; PROBE_JSON=
# spawn_server lite|redis TAG DATA_DIR [env assignments...]: spawns pinned to
# SERVER_CPU with the start-up prober armed first; PROBE_JSON = prober output.
spawn_server() {
  local kind=$1 tag=$2 dir=$3; shift 3
  local port armed go pattern proto probe_pid rc=0
  port=$(free_port)
  SRV_PORT=$port
  SRV_LOG="$LOG_DIR/$tag.server.log"
  armed="$WORK/$tag.armed"; go="$WORK/$tag.go"
  rm -f "$armed" "$go"; : >"$SRV_LOG"
  if [[ $kind == lite ]]; then proto=mc; pattern='listening on'; else proto=redis; pattern='Ready to accept connections'; fi
  taskset -c "$LOAD_CPU" node "$CLIENT" ready --proto "$proto" --port "$port" --armed "$armed" --go "$go" \
    --log "$SRV_LOG" --pattern "$pattern" --timeout 300 >"$LOG_DIR/$tag.probe.json" 2>"$LOG_DIR/$tag.probe.err" &
  probe_pid=$!
  PIDS+=("$probe_pid")
  for _ in $(seq 1000); do [[ -e "$armed" ]] && break; kill -0 "$probe_pid" 2>/dev/null || break; sleep 0.01; done
  [[ -e "$armed" ]] || die "start-up prober did not arm ($(cat "$LOG_DIR/$tag.probe.err"))"
  local t0=$EPOCHREALTIME
  case "$kind" in
    lite)
      env "$@" taskset -c "$SERVER_CPU" "$LITE_BIN" -p "$port" -l 127.0.0.1 --data-dir "$dir" --fsync "$FSYNC" \
        -m "$MEM_MB" --snapshot-interval 86400 >"$SRV_LOG" 2>&1 &
      ;;
    redis)
      taskset -c "$SERVER_CPU" redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" \
        --appendonly yes --appendfsync "$FSYNC" --save '' --auto-aof-rewrite-percentage 0 \
        --daemonize no --logfile "" >"$SRV_LOG" 2>&1 &
      ;;
  esac
  SRV_PID=$!
  PIDS+=("$SRV_PID")
  echo "$t0 $SRV_PID" >"$go.tmp" && mv "$go.tmp" "$go"
  wait "$probe_pid" || rc=$?
  forget_pid "$probe_pid"
  if [[ $rc != 0 ]]; then
    cat "$LOG_DIR/$tag.probe.err" >&2; tail -n 20 "$SRV_LOG" >&2
    die "$kind ($tag) did not become ready"
  fi
  PROBE_JSON=$(cat "$LOG_DIR/$tag.probe.json")
}

# kill_server SIGNAL: stop SRV_PID with SIGNAL, wait; exit status in STOP_RC
STOP_RC=
# (stderr of the body is discarded: bash reports "Killed" for a SIGKILLed job)
kill_server() {
  local sig=$1 rc=0
  {
    if kill -0 "$SRV_PID" 2>/dev/null; then
      kill "-$sig" "$SRV_PID" 2>/dev/null || true
      for _ in $(seq 600); do kill -0 "$SRV_PID" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$SRV_PID" 2>/dev/null && { echo "step2: PID $SRV_PID still alive 60 s after SIG$sig, killing" >&3; kill -KILL "$SRV_PID" 2>/dev/null || true; }
    fi
    wait "$SRV_PID" || rc=$?
  } 3>&2 2>/dev/null
  forget_pid "$SRV_PID"
  STOP_RC=$rc
}

lite_items() { taskset -c "$LOAD_CPU" node "$CLIENT" mcstats --port "$1" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).curr_items))'; }

redis_wait_rewrite() {
  local port=$1
  for _ in $(seq 1200); do
    if [[ $(redis_info "$port" persistence aof_rewrite_in_progress) == 0 && $(redis_info "$port" persistence aof_rewrite_scheduled) == 0 ]]; then
      [[ $(redis_info "$port" persistence aof_last_bgrewrite_status) == ok ]] || die "BGREWRITEAOF failed"
      return 0
    fi
    sleep 0.1
  done
  die "BGREWRITEAOF did not finish in 120 s"
}

# ---- metadata ----------------------------------------------------------------
{
  echo "started=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "quick=$QUICK"; echo "items=$ITEMS"; echo "updates=$UPDATES"; echo "rounds=$ROUNDS"; echo "snap_rounds=$SNAP_ROUNDS"
  echo "get_duration_s=$GET_DUR"; echo "pre_s=$PRE_S"; echo "post_s=$POST_S"; echo "settle_s=$SETTLE_S"; echo "conns=$CONNS"
  echo "fsync=$FSYNC"; echo "mem_mb=$MEM_MB"; echo "server_cpu=$SERVER_CPU"; echo "load_cpu=$LOAD_CPU"; echo "lite_bin=$LITE_BIN"
  echo "dist_sha=$DIST_SHA"
  echo "data_dir_fs=$(df -PT "$WORK" | awk 'NR==2{print $2" on "$1" ("$7")"}')"
  echo "load1_start=$(load1)"
} >"$META"
T_BEGIN=$(now_ms)
note "items=$ITEMS updates=$UPDATES rounds=$ROUNDS fsync=$FSYNC; servers on CPU $SERVER_CPU, clients on CPU $LOAD_CPU; work dir $WORK; logs in $LOG_DIR"

# ---- 0. data set ---------------------------------------------------------------
note "generating $ITEMS items + $UPDATES updates"
taskset -c "$LOAD_CPU" node "$BENCH/step2-gen.mjs" "$GEN" "$ITEMS" "$UPDATES" >"$RES/gen.json"

# ---- build memcached-lite's data dir ---------------------------------------------
note "memcached-lite load (dump -> WAL + snapshot)"
t=$(now_ms)
taskset -c "$SERVER_CPU" "$LITE_BIN" load --data-dir "$LITE_DIR" "$GEN/dump.jsonl" >"$LOG_DIR/lite-load.log" 2>&1 \
  || { cat "$LOG_DIR/lite-load.log" >&2; die "memcached-lite load failed"; }
LOAD_MS=$(( $(now_ms) - t ))
ls -l --time-style=+ "$LITE_DIR" "$LITE_DIR/snapshots" "$LITE_DIR/wal" >"$LOG_DIR/lite-after-load.ls" 2>&1 || true

# One start measures the state `load` left (reported, not a target figure; an
# older load left its covered WAL segment here, which the report flags as an
# anomaly if it ever comes back); an offline `compact` follows, so the
# measured state is exactly "snapshot of ITEMS items + UPDATES WAL records".
note "memcached-lite: one start as \`load\` left the data dir (snapshot + its covered WAL)"
spawn_server lite lite-asloaded "$LITE_DIR"
echo "$PROBE_JSON" >"$RES/lite-asloaded-probe.json"
[[ $(lite_items "$SRV_PORT") == "$ITEMS" ]] || die "memcached-lite does not hold $ITEMS items after load"
kill_server KILL
rc=0
taskset -c "$SERVER_CPU" "$LITE_BIN" compact --data-dir "$LITE_DIR" >"$LOG_DIR/lite-compact-after-load.log" 2>&1 || rc=$?
[[ $rc == 0 ]] || { cat "$LOG_DIR/lite-compact-after-load.log" >&2; die "compact after load failed"; }
ls -l --time-style=+ "$LITE_DIR/snapshots" "$LITE_DIR/wal" >"$LOG_DIR/lite-after-load-compact.ls" 2>&1 || true

note "memcached-lite: $UPDATES pipelined sets, then SIGKILL"
spawn_server lite lite-writer "$LITE_DIR"
echo "$PROBE_JSON" >"$RES/lite-writer-probe.json"
[[ $(lite_items "$SRV_PORT") == "$ITEMS" ]] || die "memcached-lite does not hold $ITEMS items after load"
taskset -c "$LOAD_CPU" node "$CLIENT" sets --port "$SRV_PORT" --items "$ITEMS" --updates "$UPDATES" >"$RES/lite-sets.json" \
  || { cat "$RES/lite-sets.json" >&2; die "update sets to memcached-lite failed"; }
[[ $(lite_items "$SRV_PORT") == "$ITEMS" ]] || die "memcached-lite item count changed by the updates"
kill_server KILL
ls -l --time-style=+ "$LITE_DIR/snapshots" "$LITE_DIR/wal" >"$LOG_DIR/lite-after-writes.ls" 2>&1 || true

# ---- build Redis's AOF ------------------------------------------------------------
note "redis: --pipe $ITEMS sets, BGREWRITEAOF, --pipe $UPDATES sets, SIGKILL"
spawn_server redis redis-writer "$REDIS_DIR"
t=$(now_ms)
taskset -c "$LOAD_CPU" redis-cli -h 127.0.0.1 -p "$SRV_PORT" --pipe <"$GEN/redis-load.resp" >"$LOG_DIR/redis-pipe-load.log" 2>&1
REDIS_LOAD_MS=$(( $(now_ms) - t ))
grep -q 'errors: 0,' "$LOG_DIR/redis-pipe-load.log" || die "redis-cli --pipe (load) reported errors: $(tail -1 "$LOG_DIR/redis-pipe-load.log")"
t=$(now_ms)
rcli "$SRV_PORT" bgrewriteaof >/dev/null
redis_wait_rewrite "$SRV_PORT"
REDIS_REWRITE_MS=$(( $(now_ms) - t ))
taskset -c "$LOAD_CPU" redis-cli -h 127.0.0.1 -p "$SRV_PORT" --pipe <"$GEN/redis-updates.resp" >"$LOG_DIR/redis-pipe-updates.log" 2>&1
grep -q 'errors: 0,' "$LOG_DIR/redis-pipe-updates.log" || die "redis-cli --pipe (updates) reported errors"
[[ $(rcli "$SRV_PORT" dbsize) == "$ITEMS" ]] || die "redis does not hold $ITEMS keys"
rcli "$SRV_PORT" config get aof-use-rdb-preamble | tr -d '\r' | tail -1 >"$LOG_DIR/redis-rdb-preamble.txt"
kill_server KILL
ls -l --time-style=+ "$REDIS_DIR/appendonlydir" >"$LOG_DIR/redis-after-writes.ls" 2>&1 || true
cat "$REDIS_DIR/appendonlydir/"*.manifest >"$LOG_DIR/redis-manifest.txt" 2>/dev/null || true
{
  echo "lite_load_ms=$LOAD_MS"; echo "redis_pipe_load_ms=$REDIS_LOAD_MS"; echo "redis_rewrite_ms=$REDIS_REWRITE_MS"
  echo "redis_rdb_preamble=$(cat "$LOG_DIR/redis-rdb-preamble.txt")"
  echo "lite_dir_before_rounds_bytes=$(du -sb "$LITE_DIR" | cut -f1)"
  echo "redis_aof_dir_bytes=$(du -sb "$REDIS_DIR/appendonlydir" | cut -f1)"
  for f in "$REDIS_DIR/appendonlydir/"*; do echo "redis_file_$(basename "$f" | tr -c 'A-Za-z0-9_\n' _)=$(stat -c %s "$f")"; done
} >>"$META"

# ---- empty servers: RSS baseline ---------------------------------------------------
for kind in lite redis; do
  d=$(mktemp -d "$WORK/empty-$kind.XXXXXX")
  spawn_server "$kind" "empty-$kind" "$d"
  sleep "$SETTLE_S"
  echo "{\"server\":\"$kind\",\"rss_kb\":$(vm_kb "$SRV_PID" VmRSS)}" >>"$RES/empty.jsonl"
  kill_server KILL
done

# ---- 1 + 2. start-up and memory ------------------------------------------------------
measure_start() {
  local kind=$1 round=$2 tag="start-r$2-$1" dir items rss0 hwm0 rss1 hwm1 l0
  if [[ $kind == lite ]]; then dir=$LITE_DIR; else dir=$REDIS_DIR; fi
  l0=$(load1)
  spawn_server "$kind" "$tag" "$dir"
  rss0=$(vm_kb "$SRV_PID" VmRSS); hwm0=$(vm_kb "$SRV_PID" VmHWM)
  if [[ $kind == lite ]]; then items=$(lite_items "$SRV_PORT"); else items=$(rcli "$SRV_PORT" dbsize); fi
  sleep "$SETTLE_S"
  rss1=$(vm_kb "$SRV_PID" VmRSS); hwm1=$(vm_kb "$SRV_PID" VmHWM)
  local extra='{}'
  if [[ $kind == redis ]]; then
    extra="{\"used_memory\":$(redis_num "$SRV_PORT" memory used_memory),\"used_memory_rss\":$(redis_num "$SRV_PORT" memory used_memory_rss),\"aof_base_size\":$(redis_num "$SRV_PORT" persistence aof_base_size),\"mem_allocator\":\"$(redis_info "$SRV_PORT" memory mem_allocator)\"}"
  fi
  if [[ $kind == lite && $round == "$ROUNDS" ]]; then
    taskset -c "$LOAD_CPU" node "$CLIENT" mcget --port "$SRV_PORT" --items "$ITEMS" --updates "$UPDATES" >"$RES/lite-spotcheck.json" || note "memcached-lite spot check of values FAILED (see $RES/lite-spotcheck.json)"
  fi
  kill_server KILL
  echo "{\"server\":\"$kind\",\"round\":$round,\"tag\":\"$tag\",\"probe\":$PROBE_JSON,\"items\":${items:-null},\"rss_ready_kb\":$rss0,\"hwm_ready_kb\":$hwm0,\"rss_settled_kb\":$rss1,\"hwm_settled_kb\":$hwm1,\"settle_s\":$SETTLE_S,\"load1\":$l0,\"log\":\"$SRV_LOG\",\"extra\":$extra}" >>"$RES/startup.jsonl"
  note "round $round $kind: ready in $(echo "$PROBE_JSON" | sed -E 's/.*"ready_ms":([0-9.]+).*/\1/') ms, RSS $((rss1 / 1024)) MB, items $items"
}
for ((r = 1; r <= ROUNDS; r++)); do
  if ((r % 2 == 1)); then order=(lite redis); else order=(redis lite); fi
  for k in "${order[@]}"; do measure_start "$k" "$r"; done
done

# one more Redis start: BGREWRITEAOF (Redis's compaction) for the size comparison of step 4
spawn_server redis redis-rewrite "$REDIS_DIR"
rcli "$SRV_PORT" bgrewriteaof >/dev/null
redis_wait_rewrite "$SRV_PORT"
echo "redis_aof_dir_after_rewrite_bytes=$(du -sb "$REDIS_DIR/appendonlydir" | cut -f1)" >>"$META"
ls -l --time-style=+ "$REDIS_DIR/appendonlydir" >"$LOG_DIR/redis-after-rewrite.ls" 2>&1 || true
kill_server TERM

# ---- 3. GET latency with and without a snapshot being written -----------------------------
note "GET load ($CONNS conns) on memcached-lite: baseline vs during SIGUSR2 snapshot, $SNAP_ROUNDS round(s)"
ELD_LOG="$LOG_DIR/lite-snapshot.eld.log"
: >"$ELD_LOG"
spawn_server lite lite-snapshot "$LITE_DIR" NODE_OPTIONS="--import $BENCH/step2-eld.mjs" STEP2_ELD_OUT="$ELD_LOG"
[[ $(lite_items "$SRV_PORT") == "$ITEMS" ]] || die "memcached-lite does not hold $ITEMS items"
for ((r = 1; r <= SNAP_ROUNDS; r++)); do
  for mode in baseline snapshot; do
    rss0=$(vm_kb "$SRV_PID" VmRSS); cpu0=$(cpu_snap); sj0=$(proc_jiffies "$SRV_PID")
    extra=()
    [[ $mode == snapshot ]] && extra=(--snapshot-pid "$SRV_PID" --log "$SRV_LOG" --pre "$PRE_S" --post "$POST_S" --timeout 240)
    rc=0
    taskset -c "$LOAD_CPU" node "$CLIENT" getload --port "$SRV_PORT" --items "$ITEMS" --conns "$CONNS" --duration "$GET_DUR" \
      "${extra[@]}" >"$LOG_DIR/getload-r$r-$mode.json" 2>"$LOG_DIR/getload-r$r-$mode.err" || rc=$?
    cpu1=$(cpu_snap); sj1=$(proc_jiffies "$SRV_PID")
    alive=1; kill -0 "$SRV_PID" 2>/dev/null || alive=0
    rss1=$(vm_kb "$SRV_PID" VmRSS); hwm=$(vm_kb "$SRV_PID" VmHWM)
    [[ -s "$LOG_DIR/getload-r$r-$mode.json" ]] || echo null >"$LOG_DIR/getload-r$r-$mode.json"
    echo "{\"round\":$r,\"mode\":\"$mode\",\"rc\":$rc,\"server_alive\":$alive,\"rss_before_kb\":$rss0,\"rss_after_kb\":$rss1,\"hwm_kb\":$hwm,\"load1\":$(load1),\"cpu_before\":$cpu0,\"cpu_after\":$cpu1,\"server_jiffies\":$((sj1 - sj0)),\"result\":$(cat "$LOG_DIR/getload-r$r-$mode.json")}" >>"$RES/getload.jsonl"
    note "round $r $mode: $(sed -E 's/.*"all":\{[^}]*"p50_ms":([0-9.]+),"p90_ms":[0-9.]+,"p99_ms":([0-9.]+).*/p50 \1 ms p99 \2 ms (whole run)/' "$LOG_DIR/getload-r$r-$mode.json")"
    [[ $alive == 1 ]] || die "memcached-lite died during the GET load (log: $SRV_LOG)"
  done
done
kill_server TERM
echo "lite_snapshot_server_stop_rc=$STOP_RC" >>"$META"

# ---- 4. data directory after compaction ---------------------------------------------------
dir_facts() { # dir_facts LABEL: sizes of memcached-lite's data dir into RES/dir-LABEL.json
  local label=$1 total reserve newest newest_size f first=1
  total=$(du -sb "$LITE_DIR" | cut -f1)
  reserve=$(stat -c %s "$LITE_DIR/wal/reserve" 2>/dev/null || echo 0)
  newest=$(ls "$LITE_DIR/snapshots" | grep -E '^[0-9]{20}\.jsonl$' | sort | tail -1)
  newest_size=$(stat -c %s "$LITE_DIR/snapshots/$newest")
  {
    printf '{"label":"%s","du_bytes":%s,"reserve_bytes":%s,"newest_snapshot":"%s","newest_snapshot_bytes":%s,"files":[' \
      "$label" "$total" "$reserve" "$newest" "$newest_size"
    while IFS= read -r f; do
      [[ $first == 1 ]] || printf ','; first=0
      printf '{"path":"%s","bytes":%s}' "${f#"$LITE_DIR"/}" "$(stat -c %s "$f")"
    done < <(find "$LITE_DIR" -type f | sort)
    printf ']}\n'
  } >"$RES/dir-$label.json"
}
dir_facts before-compact
note "memcached-lite compact"
t=$(now_ms)
rc=0
taskset -c "$SERVER_CPU" "$LITE_BIN" compact --data-dir "$LITE_DIR" >"$LOG_DIR/lite-compact.log" 2>&1 || rc=$?
echo "lite_compact_ms=$(( $(now_ms) - t ))" >>"$META"; echo "lite_compact_rc=$rc" >>"$META"
dir_facts after-compact
rc=0
taskset -c "$SERVER_CPU" "$LITE_BIN" inspect --data-dir "$LITE_DIR" >"$LOG_DIR/lite-inspect.log" 2>&1 || rc=$?
echo "lite_inspect_rc=$rc" >>"$META"

{ echo "finished=$(date -u +%Y-%m-%dT%H:%M:%SZ)"; echo "load1_end=$(load1)"; echo "total_s=$(( ($(now_ms) - T_BEGIN) / 1000 ))"; } >>"$META"
node "$BENCH/step2-report.mjs" "$LOG_DIR" "$OUT_DIR/step2-results.json"
