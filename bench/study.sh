#!/usr/bin/env bash
# bench/study.sh - the benchmark study (`npm run bench`): memcached-lite with
# each fsync mode against stock memcached and Redis appendfsync always, in ONE
# `mcl bench` run, with the issue's target ratios.
#
#   npm run build && npm run bench             # full run, about 8 to 10 minutes
#   QUICK=1 npm run bench                      # smoke run, under a minute
#   DOCS=1 npm run bench                       # also copy the README's SVGs into docs/
#   npm run bench -- --ns 100,400 --duration 5 # extra arguments go to mcl bench
#
# Servers, each started by this script pinned to CPU $SERVER_CPU (0) with
# taskset, on 127.0.0.1, a free port, a fresh `mktemp -d` data dir, and
# stopped by its PID on exit:
#   memcached       stock memcached -U 0 (items in memory only)
#   redis-always    redis-server --appendonly yes --appendfsync always --save ''
#                   (only when redis-server and redis-benchmark are installed)
#   lite-always     memcached-lite --fsync always  (the durable one: the targets)
#   lite-everysec   memcached-lite --fsync everysec
#   lite-no         memcached-lite --fsync no
# memcached-lite runs from a private copy of bin/ + dist/ (bench/lib.sh
# private_build), so a rebuild by someone else mid-run changes nothing.
#
# Then ONE `mcl bench` (from the same copy) pinned to CPU $LOAD_CPU (1)
# measures them one after another in the order above: only the server being
# measured has load, the others sit idle (Redis is measured by redis-benchmark,
# which mcl bench starts as its child, so it inherits the pinning). The order
# is deliberate: the idle memcached-lite servers keep their snapshot timer
# (every 60 s, when the WAL grew 16 MB), so a snapshot can land while a later
# server is measured; with the lite servers last, that can only slow
# memcached-lite itself, never the servers it is compared with.
#
# Output in $OUT_DIR (bench/out/study/, git-ignored): results.json (every
# figure, the target ratios, machine and build), *.svg (see mcl bench), and
# logs/ (server logs). The summary and the target verdicts go to stdout.
# DOCS=1 copies the SVGs the README shows into docs/study-*.svg.
#
# Knobs (environment): QUICK=1, DOCS=1, SERVER_CPU, LOAD_CPU, OUT_DIR,
# KEEP_WORK=1 (keep the work dir with the data dirs).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH="$ROOT/bench"
OUT_DIR=${OUT_DIR:-$BENCH/out/study}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
# the SVGs the README shows (copied to docs/study-NAME with DOCS=1)
DOC_SVGS=(original-get-avg.svg original-set-avg.svg modern-throughput-d1.svg modern-timeline-d1.svg)

die() { echo "study: $*" >&2; exit 1; }
note() { echo "study: $*" >&2; }

for tool in memcached taskset node; do
  command -v "$tool" >/dev/null 2>&1 || die "missing tool: $tool (apt-get install memcached util-linux nodejs)"
done
[[ -f "$ROOT/dist/server.mjs" && -f "$ROOT/dist/cli/bench/main.js" ]] || die "dist/ is missing or stale: run 'npm run build' first"
if [[ -n "$(find "$ROOT/src" -newer "$ROOT/dist/server.mjs" -name '*.ts' -print -quit 2>/dev/null)" ]]; then
  note "warning: src/ has files newer than dist/server.mjs (run 'npm run build' to measure the current source)"
fi
[[ $(nproc) -ge 2 ]] || note "warning: fewer than 2 CPUs; servers and load generator will share a core"
WITH_REDIS=0
if command -v redis-server >/dev/null 2>&1 && command -v redis-benchmark >/dev/null 2>&1; then WITH_REDIS=1
else note "redis-server or redis-benchmark not installed: no Redis comparison"; fi

# shellcheck source=bench/lib.sh
source "$BENCH/lib.sh"

mkdir -p "$OUT_DIR"
rm -rf "$OUT_DIR/logs" "$OUT_DIR"/*.svg "$OUT_DIR/results.json"
mkdir -p "$OUT_DIR/logs"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mcl-study.XXXXXX"); TMPDIRS+=("$WORK")
private_build "$ROOT" "$WORK"
note "build $DIST_SHA copied to $APP"

TARGETS=()
# start NAME KIND PORT CMD...: run CMD pinned to SERVER_CPU, wait for PORT, add the mcl bench target
start() {
  local name=$1 kind=$2 port=$3; shift 3
  taskset -c "$SERVER_CPU" "$@" >"$OUT_DIR/logs/$name.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  wait_port "$port" "$pid" || { cat "$OUT_DIR/logs/$name.log" >&2; die "$name did not start"; }
  TARGETS+=("--$kind" "$name=127.0.0.1:$port")
  note "$name: pid $pid, port $port"
}

data_dir() { local d; d=$(mktemp -d "$WORK/$1.XXXXXX"); echo "$d"; }

user=()
[[ $(id -u) -eq 0 ]] && user=(-u root)
port=$(free_port); start memcached server "$port" memcached "${user[@]}" -U 0 -l 127.0.0.1 -p "$port"
if [[ $WITH_REDIS == 1 ]]; then
  port=$(free_port)
  start redis-always redis "$port" redis-server --port "$port" --bind 127.0.0.1 --dir "$(data_dir redis)" \
    --appendonly yes --appendfsync always --save '' --daemonize no --logfile ''
fi
for mode in always everysec no; do
  port=$(free_port)
  start "lite-$mode" server "$port" "$APP/bin/memcached-lite" -p "$port" -l 127.0.0.1 --data-dir "$(data_dir "lite-$mode")" --fsync "$mode"
done

args=("${TARGETS[@]}" --ours lite-always --memcached memcached --out "$OUT_DIR"
  --note "bench/study.sh: memcached-lite build $DIST_SHA; servers pinned to CPU $SERVER_CPU, mcl bench to CPU $LOAD_CPU")
[[ "${QUICK:-0}" == 1 ]] && args+=(--quick)
note "mcl bench ${args[*]} $*"
rc=0
taskset -c "$LOAD_CPU" node "$APP/bin/mcl" bench "${args[@]}" "$@" || rc=$?

# a server that died under load makes the run suspect, whatever mcl said
for pid in "${PIDS[@]}"; do
  kill -0 "$pid" 2>/dev/null || { note "server pid $pid is gone (see $OUT_DIR/logs/)"; rc=1; }
done
echo "build $DIST_SHA; servers on CPU $SERVER_CPU, mcl bench on CPU $LOAD_CPU; logs in $OUT_DIR/logs"

if [[ "${DOCS:-0}" == 1 && -f "$OUT_DIR/results.json" ]]; then
  mkdir -p "$ROOT/docs"
  for f in "${DOC_SVGS[@]}"; do
    if [[ -f "$OUT_DIR/$f" ]]; then cp "$OUT_DIR/$f" "$ROOT/docs/study-$f"; echo "copied docs/study-$f"; fi
  done
fi
exit "$rc"
