# Part of scripts/realapps.sh (sourced by it, not run alone): stress-ng --sem and --sem-sysv, on glibc or the kernel and on esem.
# It uses the helpers, daemons and work directory set up there.
# shellcheck shell=bash

# ---------------------------------------------------------------- 1. stress-ng

sng_rate() { # sng_rate FILE [STRESSOR]: bogo ops/s (real time), from --metrics-brief
  awk -v s="${2:-sem}" '/metrc:/ && $4 == s { print $9 }' "$1" | tail -n 1
}

# The kernel's System V sets (ids), one per line: under the shim, a program's
# sets live in esemd and never appear here.
kernel_sets() { awk 'NR > 1 { print $2 }' /proc/sysvipc/sem 2>/dev/null | sort; }
sysv_mark() { SYSV_BEFORE=$(kernel_sets); }
sysv_check() { # sysv_check WHAT: no new set in the kernel's table since sysv_mark
  local new
  new=$(comm -13 <(printf '%s\n' "$SYSV_BEFORE") <(kernel_sets) | grep -c . || true)
  [ "$new" = 0 ] || fail "$1: $new System V set(s) appeared in the kernel's table (/proc/sysvipc/sem) while on esem"
}

# stress-ng's semaphores are process-private (sem_init pshared=0): under the
# shim they stay in the process by default (no protection lost: docs/SHIM.md),
# and with ESEM_PRIVATE=esem they go through esemd too.  Both are measured:
# side "esem" (the default) and "esem-core" (forced through the core).
run_stressng() { # run_stressng glibc|esem|esem-core REP
  local side=$1 rep=$2 out=$W/stress-ng.$1.$2.out rc pid l0=0
  local cmd=(stress-ng --sem 2 -t "$SNG_T" --metrics-brief)
  say "-- $side, run $rep"
  if [ "$side" = glibc ]; then
    timeout $((SNG_T + 60)) "${cmd[@]}" >"$out" 2>&1 &
  else
    shm_mark
    l0=$(log_lines "$ROOT_LOG")
    probe_begin "$ROOT_ESEMD" "$ROOT_SOCK"
    local priv=glibc
    [ "$side" = esem-core ] && priv=esem
    ESEM_PRIVATE=$priv ESEM_SOCKET=$ROOT_SOCK timeout $((SNG_T + 60)) "$ESEMRUN" run -- "${cmd[@]}" >"$out" 2>&1 &
  fi
  pid=$!
  BG_PIDS+=("$pid")
  if [ "$side" != glibc ]; then
    sleep $((SNG_T / 2))
    [ "$side" = esem-core ] && first "$rep" &&
      capture_ls "stress-ng" "$W/stress-ng.esemctl-ls" env ESEM_SOCKET="$ROOT_SOCK"
    shm_check "stress-ng, running"
  fi
  wait "$pid"; rc=$?
  if [ "$side" != glibc ]; then
    if [ "$side" = esem-core ]; then probe_end "stress-ng, ESEM_PRIVATE=esem"; else probe_end "stress-ng, in the process"; fi
    shm_check "stress-ng, after"
    local a
    a=$(audit_since "$ROOT_LOG" "$l0")
    [ "$a" = 0 ] || fail "stress-ng on esem: $a refused request(s) in the esemd log"
    first "$rep" && ESEM_SOCKET=$ROOT_SOCK "$ESEMCTL" stats >"$W/stress-ng.esem-stats" 2>&1
  fi
  grep -E 'metrc: .* sem |fail|error' "$out" | head -n 6 | sed 's/^/    /'
  if [ $rc != 0 ] || grep -qE ' fail: |failed, errno' "$out" || ! grep -q 'successful run completed' "$out"; then
    fail "stress-ng on $side: exit $rc or failure reported (see $out)"
  fi
  if [ "$side" = esem-core ]; then
    record sngcore esem "$(sng_rate "$out")"
  else
    record sng "$side" "$(sng_rate "$out")"
  fi
}

if want stress-ng; then
step "1. stress-ng --sem 2 -t $SNG_T --metrics-brief (esem: esem run -- stress-ng ...)"
for r in $(seq "$REPS"); do
  run_stressng glibc "$r"
  run_stressng esem "$r"
  run_stressng esem-core "$r"
done
VALS[sngcore.glibc]=${VALS[sng.glibc]:-}
fi

# ---------------------------------------------------------------- 1b. stress-ng, System V

run_sngsysv() { # run_sngsysv glibc|esem REP
  local side=$1 rep=$2 out=$W/stress-ng-sysv.$1.$2.out rc pid l0=0
  local cmd=(stress-ng --sem-sysv 2 -t "$SNG_T" --metrics-brief)
  say "-- $side, run $rep"
  if [ "$side" = glibc ]; then
    timeout $((SNG_T + 60)) "${cmd[@]}" >"$out" 2>&1 &
  else
    sysv_mark
    l0=$(log_lines "$ROOT_LOG")
    probe_begin "$ROOT_ESEMD" "$ROOT_SOCK"
    ESEM_SOCKET=$ROOT_SOCK timeout $((SNG_T + 60)) "$ESEMRUN" run -- "${cmd[@]}" >"$out" 2>&1 &
  fi
  pid=$!
  BG_PIDS+=("$pid")
  if [ "$side" != glibc ]; then
    sleep $((SNG_T / 2))
    first "$rep" && ESEM_SOCKET=$ROOT_SOCK "$ESEMCTL" ipcs >"$W/stress-ng-sysv.esemctl-ipcs" 2>&1
    sysv_check "stress-ng --sem-sysv, running"
  fi
  wait "$pid"; rc=$?
  if [ "$side" != glibc ]; then
    probe_end "stress-ng --sem-sysv"
    sysv_check "stress-ng --sem-sysv, after"
    local a
    a=$(audit_since "$ROOT_LOG" "$l0")
    [ "$a" = 0 ] || fail "stress-ng --sem-sysv on esem: $a refused request(s) in the esemd log"
    first "$rep" && sed 's/^/    /' "$W/stress-ng-sysv.esemctl-ipcs"
  fi
  grep -E 'metrc: .* sem-sysv |fail|error' "$out" | head -n 6 | sed 's/^/    /'
  if [ $rc != 0 ] || grep -qE ' fail: |failed, errno' "$out" || ! grep -q 'successful run completed' "$out"; then
    fail "stress-ng --sem-sysv on $side: exit $rc or failure reported (see $out)"
  fi
  record sngsysv "$side" "$(sng_rate "$out" sem-sysv)"
}

if want stress-ng-sysv; then
step "1b. stress-ng --sem-sysv 2 -t $SNG_T --metrics-brief (esem: esem run -- stress-ng ...)"
for r in $(seq "$REPS"); do
  run_sngsysv glibc "$r"
  run_sngsysv esem "$r"
done
fi
