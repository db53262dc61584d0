#!/usr/bin/env bash
# bench/step1.sh - durable SET and GET throughput of memcached-lite, in one run,
# against a stock memcached (same memcaslap load) and against Redis with
# `appendonly yes, appendfsync always` (redis-benchmark -t set -c 50 -d 50).
#
#   npm run build && bash bench/step1.sh          # full run, about 3 minutes
#   QUICK=1 bash bench/step1.sh                   # smoke run, about 30 s
#
# Output: bench/out/step1-results.json (every figure, ratios, machine info),
# bench/out/step1-throughput.svg (chart, via bench/plot.mjs), raw tool logs in
# bench/out/step1-logs/, and a short table on stdout. Set DOCS_SVG=1 to also
# write docs/step1-throughput.svg (the chart the README shows).
#
# Rules followed: every server under test runs pinned to CPU $SERVER_CPU (0),
# every load generator to CPU $LOAD_CPU (1), with taskset; all on 127.0.0.1,
# free ports, fresh `mktemp -d` data dirs, one fresh server process per
# measurement, each stopped by its PID (trap on exit). Rounds alternate the
# server order so slow drifts of this shared machine hit both sides; the
# figures are medians over rounds and the ratios are ratios of those medians
# (per-round ratios are in the JSON too).
#
# Loads (50 connections everywhere):
#   SET  memcaslap -F bench/memcaslap-set.cnf -c 50 -T 1 -w $WIN -t ${DUR}s
#        (16-byte keys, 50-byte values, 100% set, every set a new key)
#        -> memcached-lite --fsync always, stock memcached
#   SET  redis-benchmark -t set -c 50 -d 50 -r 1000000 -n $REDIS_N
#        -> redis-server --appendonly yes --appendfsync always --save ''
#        (-r makes every SET hit a random key "key:NNNNNNNNNNNN", 16 bytes like
#        memcaslap's keys; without -r all requests overwrite one key)
#   GET  memcaslap -F bench/memcaslap-get.cnf -c 50 -T 1 -w $WIN -t ${DUR}s
#        -> memcached-lite --fsync always, stock memcached
#
# How GET and SET are separated with memcaslap (Debian libmemcached-tools
# 1.1.4, "memaslap v1.0"): memaslap's keys are private to one process, so a
# separate preload run cannot be read back by a later run. Instead the GET
# config has set proportion 0: memaslap then warms the server up itself
# (each of the 50 connections SETs all $WIN keys of its window), waits for
# every connection to finish, and only then starts the clock; the timed part
# is 100% GETs of existing keys. Its "Ops"/"TPS" line still counts the warm-up
# SETs (cmd_set = 50 * WIN), so GET throughput here is cmd_get / "Run time",
# not memaslap's TPS. SET throughput is cmd_set / "Run time" of the SET-only
# run (equal to its TPS). memaslap prints any unexpected server reply on
# stdout (e.g. "<30 CLIENT_ERROR bad command line format") and a failed
# warm-up set as "key: ... didn't set success"; the report counts every such
# line, and a measurement with any of them, with get_misses > 0, with a
# non-zero exit, or whose server died, is marked invalid (valid: false) and
# its ratio is not claimed. memaslap keys are 8 raw bytes (a counter OR'ed
# with 0x1010101010101010, so mostly 0x10 bytes) followed by 8 characters:
# servers that refuse control characters in keys cannot be measured with it.
# On the wire: `set \x10\x10\x10\x10\x10\x10\x10\x10ZeAiPV4a 0 0 50\r\n<50
# bytes>\r\n`. Stock memcached stores such keys, and so does memcached-lite
# by default (memcached's key rule); started with --strict-keys it would answer
# "CLIENT_ERROR bad command line format" and every figure would be invalid.
# A last short "sanity" run per memcached-protocol server repeats the GET load
# with memaslap's data verification (--verify) and reports verify_failed.
#
# Knobs (environment): QUICK=1, ROUNDS, DUR (seconds per memcaslap run), WIN
# (memaslap window per connection, multiple of 1k), REDIS_N, SERVER_CPU,
# LOAD_CPU, LITE_BIN (server binary, default bin/memcached-lite), OUT_DIR,
# DOCS_SVG=1.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH="$ROOT/bench"
OUT_DIR=${OUT_DIR:-$BENCH/out}
LOG_DIR="$OUT_DIR/step1-logs"
QUICK=${QUICK:-0}
if [[ "$QUICK" == 1 ]]; then
  ROUNDS=${ROUNDS:-1}; DUR=${DUR:-3}; REDIS_N=${REDIS_N:-15000}; SANITY_DUR=${SANITY_DUR:-2}
else
  ROUNDS=${ROUNDS:-3}; DUR=${DUR:-8}; REDIS_N=${REDIS_N:-60000}; SANITY_DUR=${SANITY_DUR:-3}
fi
WIN=${WIN:-1k}
CONC=50
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
LITE_BIN=${LITE_BIN:-$ROOT/bin/memcached-lite}
MEMASLAP=${MEMASLAP:-memcaslap}

die() { echo "step1: $*" >&2; exit 1; }
note() { echo "step1: $*" >&2; }

for tool in "$MEMASLAP" memcached redis-server redis-benchmark redis-cli taskset node timeout; do
  command -v "$tool" >/dev/null 2>&1 || die "missing tool: $tool (apt-get install libmemcached-tools memcached redis-server)"
done
[[ -x "$LITE_BIN" ]] || die "no server binary at $LITE_BIN"
if [[ "$LITE_BIN" == "$ROOT/bin/memcached-lite" ]]; then
  [[ -f "$ROOT/dist/server.mjs" ]] || die "dist/server.mjs missing: run 'npm run build' first"
  if [[ -n "$(find "$ROOT/src" -newer "$ROOT/dist/server.mjs" -name '*.ts' -print -quit 2>/dev/null)" ]]; then
    note "warning: src/ has files newer than dist/server.mjs (run 'npm run build' to measure the current source)"
  fi
fi
[[ $(nproc) -ge 2 ]] || note "warning: fewer than 2 CPUs; server and load generator will share a core"

mkdir -p "$OUT_DIR"
rm -rf "$LOG_DIR"
mkdir -p "$LOG_DIR"
MANIFEST="$OUT_DIR/step1-manifest.tsv"
META="$OUT_DIR/step1-meta.env"
: >"$MANIFEST"

# ---- process and temp-dir bookkeeping (PIDS, TMPDIRS, cleanup, forget_pid, free_port, wait_port)
# shellcheck source=bench/lib.sh
source "$BENCH/lib.sh"

# memcached text-protocol "stats" of 127.0.0.1:$1 on stdout
mc_stats() {
  local port=$1 fd line
  exec {fd}<>"/dev/tcp/127.0.0.1/$port" || return 1
  printf 'stats\r\n' >&"$fd"
  while IFS= read -r -t 5 line <&"$fd"; do
    line=${line%$'\r'}
    [[ "$line" == END ]] && break
    echo "$line"
  done
  exec {fd}>&-
}

load1() { cut -d' ' -f1 /proc/loadavg; }

SRV_PID=; SRV_PORT=; SRV_DIR=; SRV_LOG=
# start_server lite|memcached|redis TAG: fresh data dir, free port, pinned to SERVER_CPU
start_server() {
  local kind=$1 tag=$2
  SRV_DIR=$(mktemp -d "${TMPDIR:-/tmp}/mcl-bench-$kind.XXXXXX")
  TMPDIRS+=("$SRV_DIR")
  SRV_PORT=$(free_port)
  SRV_LOG="$LOG_DIR/$tag.server.log"
  case "$kind" in
    lite)
      taskset -c "$SERVER_CPU" "$LITE_BIN" -p "$SRV_PORT" -l 127.0.0.1 --data-dir "$SRV_DIR" --fsync always \
        >"$SRV_LOG" 2>&1 &
      ;;
    memcached)
      local user=()
      [[ $(id -u) -eq 0 ]] && user=(-u root)
      taskset -c "$SERVER_CPU" memcached "${user[@]}" -U 0 -l 127.0.0.1 -p "$SRV_PORT" \
        >"$SRV_LOG" 2>&1 &
      ;;
    redis)
      taskset -c "$SERVER_CPU" redis-server --port "$SRV_PORT" --bind 127.0.0.1 --dir "$SRV_DIR" \
        --appendonly yes --appendfsync always --save '' --daemonize no --logfile "" \
        >"$SRV_LOG" 2>&1 &
      ;;
    *) die "unknown server kind $kind" ;;
  esac
  SRV_PID=$!
  PIDS+=("$SRV_PID")
  wait_port "$SRV_PORT" "$SRV_PID" || { cat "$SRV_LOG" >&2; die "$kind did not start (log: $SRV_LOG)"; }
}

# stop_server: SIGTERM by PID, wait; its exit status goes to STOP_RC
STOP_RC=
stop_server() {
  local rc=0
  if kill -0 "$SRV_PID" 2>/dev/null; then
    kill -TERM "$SRV_PID" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$SRV_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$SRV_PID" 2>/dev/null && { note "PID $SRV_PID ignored SIGTERM for 10 s, killing"; kill -KILL "$SRV_PID" 2>/dev/null || true; }
  fi
  wait "$SRV_PID" 2>/dev/null || rc=$?
  forget_pid "$SRV_PID"
  rm -rf -- "$SRV_DIR"
  STOP_RC=$rc
}

# record one measurement in the manifest (tab separated; parsed by step1-report.mjs)
record() { local IFS=$'\t'; echo "$*" >>"$MANIFEST"; }

# measure_memaslap ROUND SERVER OP CNF DURATION [extra memaslap args...]
measure_memaslap() {
  local round=$1 server=$2 op=$3 cnf=$4 dur=$5; shift 5
  local tag="r${round}-${server}-${op}"
  start_server "$server" "$tag"
  local log="$LOG_DIR/$tag.memcaslap.log" rc=0 l0 l1 t0 t1 alive=1 disk
  l0=$(load1); t0=$(date +%s.%N)
  note "round $round: $op x$CONC -> $server (pid $SRV_PID, port $SRV_PORT, ${dur}s)"
  timeout --signal=KILL $((dur + 180)) taskset -c "$LOAD_CPU" "$MEMASLAP" -s "127.0.0.1:$SRV_PORT" \
    -F "$cnf" -c "$CONC" -T 1 -w "$WIN" -t "${dur}s" "$@" >"$log" 2>&1 || rc=$?
  t1=$(date +%s.%N); l1=$(load1)
  kill -0 "$SRV_PID" 2>/dev/null || alive=0
  if [[ $alive == 1 ]]; then mc_stats "$SRV_PORT" >"$LOG_DIR/$tag.stats" 2>/dev/null || true; else : >"$LOG_DIR/$tag.stats"; fi
  disk=$(du -sb "$SRV_DIR" 2>/dev/null | cut -f1)
  stop_server
  record "$round" "$server" "$op" memcaslap "$log" "$LOG_DIR/$tag.stats" "$alive" "$rc" "$STOP_RC" "$l0" "$l1" \
    "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')" "${disk:-0}" "$SRV_LOG"
}

measure_redis() {
  local round=$1
  local tag="r${round}-redis-set"
  start_server redis "$tag"
  local log="$LOG_DIR/$tag.redis-benchmark.log" rc=0 l0 l1 t0 t1 alive=1 disk
  # refuse to measure anything but a durable Redis
  local fs; fs=$(redis-cli -h 127.0.0.1 -p "$SRV_PORT" config get appendfsync | tail -1)
  [[ "$fs" == always ]] || die "redis appendfsync is '$fs', expected always"
  l0=$(load1); t0=$(date +%s.%N)
  note "round $round: set x$CONC -> redis appendfsync always (pid $SRV_PID, port $SRV_PORT, n=$REDIS_N)"
  timeout --signal=KILL 240 taskset -c "$LOAD_CPU" redis-benchmark -h 127.0.0.1 -p "$SRV_PORT" \
    -t set -c "$CONC" -d 50 -r 1000000 -n "$REDIS_N" --csv >"$log" 2>&1 || rc=$?
  t1=$(date +%s.%N); l1=$(load1)
  kill -0 "$SRV_PID" 2>/dev/null || alive=0
  if [[ $alive == 1 ]]; then
    { redis-cli -h 127.0.0.1 -p "$SRV_PORT" info all; echo "appendfsync:$fs"; } | tr -d '\r' >"$LOG_DIR/$tag.stats" 2>/dev/null || true
  else : >"$LOG_DIR/$tag.stats"; fi
  disk=$(du -sb "$SRV_DIR" 2>/dev/null | cut -f1)
  stop_server
  record "$round" redis set redis-benchmark "$log" "$LOG_DIR/$tag.stats" "$alive" "$rc" "$STOP_RC" "$l0" "$l1" \
    "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')" "${disk:-0}" "$SRV_LOG"
}

# ---- metadata (machine info is completed by step1-report.mjs)
T_START=$(date -u +%Y-%m-%dT%H:%M:%SZ)
PROBE_DIR=$(mktemp -d "${TMPDIR:-/tmp}/mcl-bench-probe.XXXXXX"); TMPDIRS+=("$PROBE_DIR")
{
  echo "started=$T_START"
  echo "quick=$QUICK"
  echo "rounds=$ROUNDS"
  echo "duration_s=$DUR"
  echo "sanity_duration_s=$SANITY_DUR"
  echo "window=$WIN"
  echo "concurrency=$CONC"
  echo "redis_n=$REDIS_N"
  echo "server_cpu=$SERVER_CPU"
  echo "load_cpu=$LOAD_CPU"
  echo "lite_bin=$LITE_BIN"
  echo "memaslap=$(command -v "$MEMASLAP")"
  echo "data_dir_fs=$(df -PT "$PROBE_DIR" | awk 'NR==2{print $2" on "$1" ("$7")"}')"
  echo "load1_start=$(load1)"
} >"$META"

note "rounds=$ROUNDS dur=${DUR}s win=$WIN redis_n=$REDIS_N servers on CPU $SERVER_CPU, load on CPU $LOAD_CPU; logs in $LOG_DIR"

SET_CNF="$BENCH/memcaslap-set.cnf"
GET_CNF="$BENCH/memcaslap-get.cnf"
for ((r = 1; r <= ROUNDS; r++)); do
  if ((r % 2 == 1)); then set_order=(lite redis memcached); get_order=(lite memcached)
  else set_order=(memcached redis lite); get_order=(memcached lite); fi
  for s in "${set_order[@]}"; do
    if [[ $s == redis ]]; then measure_redis "$r"; else measure_memaslap "$r" "$s" set "$SET_CNF" "$DUR"; fi
  done
  for s in "${get_order[@]}"; do measure_memaslap "$r" "$s" get "$GET_CNF" "$DUR"; done
done
# sanity: same GET load with memaslap's data verification on 10% of the gets
for s in lite memcached; do measure_memaslap 0 "$s" verify "$GET_CNF" "$SANITY_DUR" --verify=0.1; done

{ echo "finished=$(date -u +%Y-%m-%dT%H:%M:%SZ)"; echo "load1_end=$(load1)"; } >>"$META"

node "$BENCH/step1-report.mjs" "$MANIFEST" "$META" "$OUT_DIR/step1-results.json"
node "$BENCH/plot.mjs" "$OUT_DIR/step1-results.json" "$OUT_DIR/step1-throughput.svg"
# memaslap prints one line per error reply; once counted (in the JSON), keep
# only the head and tail of such logs
for f in "$LOG_DIR"/*.log; do
  if [[ $(stat -c %s "$f") -gt 1000000 ]]; then
    { head -n 500 "$f"; echo "... [step1.sh: $(($(wc -l <"$f") - 530)) lines cut; counts are in step1-results.json] ..."; tail -n 30 "$f"; } >"$f.trim"
    mv -- "$f.trim" "$f"
  fi
done
if [[ "${DOCS_SVG:-0}" == 1 ]]; then
  mkdir -p "$ROOT/docs"
  node "$BENCH/plot.mjs" "$OUT_DIR/step1-results.json" "$ROOT/docs/step1-throughput.svg"
fi
