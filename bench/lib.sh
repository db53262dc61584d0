# bench/lib.sh - shared by the bench scripts (source it): every process a
# script starts goes into PIDS and is stopped by PID on exit (TERM, then KILL
# after 5 s); every temp dir goes into TMPDIRS and is removed (kept, and
# named, with KEEP_WORK=1).

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
