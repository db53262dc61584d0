# bench/lib.sh - shared by the bench scripts (source it): every process a
# script starts goes into PIDS and is stopped by PID on exit (TERM, then KILL
# after 5 s); every temp dir goes into TMPDIRS and is removed (kept, and
# named, with KEEP_WORK=1). Also: free_port, wait_port, private_build.

PIDS=()
TMPDIRS=()
cleanup() {
  local pid d
  for pid in "${PIDS[@]:-}"; do
    [[ -n "$pid" ]] || continue
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  for d in "${TMPDIRS[@]:-}"; do
    [[ -n "$d" ]] || continue
    if [[ "${KEEP_WORK:-0}" == 1 ]]; then echo "bench: kept $d" >&2; else rm -rf -- "$d"; fi
  done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

forget_pid() { local p=$1 i; for i in "${!PIDS[@]}"; do [[ "${PIDS[$i]}" == "$p" ]] && unset 'PIDS[i]'; done; return 0; }

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close();});'
}

# wait until 127.0.0.1:$1 accepts connections, as long as PID $2 lives
wait_port() {
  local port=$1 pid=$2
  for _ in $(seq 200); do
    kill -0 "$pid" 2>/dev/null || return 1
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  return 1
}

# private_build ROOT WORK: copy ROOT's bin/, dist/ and package.json into
# WORK/app (node_modules linked), so that others rebuilding dist/ during a run
# cannot change the code measured. Sets APP (the copy) and DIST_SHA (a hash of
# its dist/*.js).
private_build() {
  local root=$1 work=$2
  APP="$work/app"
  mkdir -p "$APP"
  cp -r "$root/bin" "$root/dist" "$root/package.json" "$APP/"
  ln -s "$root/node_modules" "$APP/node_modules"
  DIST_SHA=$(cd "$APP" && find dist -type f -name '*.js' | sort | xargs sha256sum | sha256sum | cut -c1-16)
}
