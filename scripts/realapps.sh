#!/usr/bin/env bash
# scripts/realapps.sh [--quick] [--reps N] [--pin] [--only LIST] [BUILD_DIR]
#
# Real, unmodified programs from Debian, each run first on glibc's semaphores
# and then on esem (through libesem-preload.so), in the same run:
#   1. stress-ng --sem 2            bogo ops/s of the POSIX semaphore stressor
#                                   (process-private semaphores: in the process,
#                                   the shim's default, and through esemd)
#   2. PostgreSQL 15 + pgbench      tps; kill -9 of a backend mid-run, crash
#                                   recovery, and a pgbench run after it
#   1b. stress-ng --sem-sysv 2      the System V semaphore stressor (its sets
#                                   on esem never reach the kernel's table)
#   3. Apache 2.4 prefork, ab       requests/s and failed requests with the
#                                   accept mutex on `Mutex posixsem`; a graceful
#                                   restart while ab runs
#   3b. Apache, `Mutex sysvsem`     requests/s; kill -9 of the child holding
#                                   the accept mutex while ab runs (SEM_UNDO
#                                   must give it back: no request lost)
# It prints a table (program, metric, glibc, esem, ratio esem/glibc) and exits
# non-zero if a program fails, reports a semaphore error, or leaves a
# /dev/shm/sem.* file while on esem.  docs/REALAPPS.md explains every step.
#
#   --quick     shorter runs: stress-ng -t 5, pgbench -T 5, ab -n 5000
#   --reps N    take each measured figure N times per side, glibc and esem
#               alternated, and report the medians (default 1)
#   --markdown FILE  also write the results (run record and table) to FILE
#               in markdown (scripts/perf-docs.sh puts it in docs/REALAPPS.md)
#   --pin       esemd on a CPU of its own (the last one), the programs, their
#               load generators and glibc's side on the others (taskset), as
#               a machine with a CPU set aside for esemd would run them
#   --only LIST run only these programs, comma-separated: stress-ng,
#               stress-ng-sysv, pgbench, apache, apache-sysv (default: all;
#               the table shows - for the others)
#   BUILD_DIR   the esem build tree (default: build, relative to the repo)
#
# Runs as root.  Installs stress-ng, postgresql-15, postgresql-client-15,
# apache2 and apache2-utils with apt-get when missing.  Every server it starts
# listens on 127.0.0.1 or on a Unix socket in its private work directory, and
# everything it started is stopped on exit.  Environment: ESEM_KEEP=1 keeps
# the work directory (logs, configs) even when everything passed;
# ESEMD_ARGS="--spin-us 0 ..." adds esemd options; ESEM_SPIN_US reaches the shim.
set -uo pipefail

usage() { sed -n '2,34p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

ARGS_SHOWN="$*"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
quick=0
REPS=1
MD_OUT=
pin=0
ONLY=
build_arg=
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    --reps) REPS=${2:-}; shift ;;
    --reps=*) REPS=${1#--reps=} ;;
    --markdown) MD_OUT=${2:-}; shift; [ -n "$MD_OUT" ] || usage ;;
    --pin) pin=1 ;;
    --only) ONLY=${2:-}; shift; [ -n "$ONLY" ] || usage ;;
    --only=*) ONLY=${1#--only=} ;;
    -h|--help) usage ;;
    -*) echo "realapps: unknown option $1" >&2; usage ;;
    *) [ -z "$build_arg" ] || usage; build_arg=$1 ;;
  esac
  shift
done

case $REPS in ''|*[!0-9]*|0) echo "realapps: --reps needs a number >= 1" >&2; exit 2 ;; esac
for o in ${ONLY//,/ }; do
  case $o in stress-ng|stress-ng-sysv|pgbench|apache|apache-sysv) ;;
    *) echo "realapps: --only takes stress-ng, stress-ng-sysv, pgbench, apache, apache-sysv, not $o" >&2; exit 2 ;;
  esac
done
want() { [ -z "$ONLY" ] || [[ ",$ONLY," == *",$1,"* ]]; } # want PROGRAM: is it to run?
# --pin: this script and all it starts on CPUs 0..N-2, esemd on CPU N-1
PIN_D=()
PINNED=
if [ "$pin" = 1 ]; then
  ncpu=$(nproc)
  [ "$ncpu" -ge 2 ] || { echo "realapps: --pin needs at least 2 CPUs" >&2; exit 2; }
  if [ "$ncpu" = 2 ]; then app_cpus=0; else app_cpus=0-$((ncpu - 2)); fi
  taskset -pc "$app_cpus" $$ >/dev/null || { echo "realapps: taskset failed" >&2; exit 1; }
  PIN_D=(taskset -c $((ncpu - 1)))
  PINNED="programs and load on CPU(s) $app_cpus, esemd on CPU $((ncpu - 1))"
fi
top=$(cd "$(dirname "$0")/.." && pwd)
build_arg=${build_arg:-build}
if [ -d "$build_arg" ]; then
  BUILD=$(cd "$build_arg" && pwd)
elif [ -d "$top/$build_arg" ]; then
  BUILD=$(cd "$top/$build_arg" && pwd)
else
  echo "realapps: build directory $build_arg not found (build with: ninja -C build)" >&2
  exit 1
fi
ESEMD=$BUILD/host/esemd
ESEMCTL=$BUILD/tools/esemctl
ESEMRUN=$BUILD/tools/esem
SHIM=$BUILD/preload/libesem-preload.so
for f in "$ESEMD" "$ESEMCTL" "$ESEMRUN" "$SHIM"; do
  [ -e "$f" ] || { echo "realapps: $f missing (build with: ninja -C $BUILD)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "realapps: run as root (it installs packages and runs servers as postgres and www-data)" >&2; exit 1; }

if [ $quick = 1 ]; then
  SNG_T=5; PGB_T=5; AB_N=5000; AB_GRACE_N=10000
else
  SNG_T=10; PGB_T=20; AB_N=20000; AB_GRACE_N=20000
fi
PGB_CRASH_T=10   # the run a backend is killed in (aborts at the kill)
PGB_AFTER_T=5    # the run after crash recovery
PG_USER=postgres
PGBIN=/usr/lib/postgresql/15/bin

say() { printf '%s\n' "$*"; }
step() { printf '\n=== %s\n' "$*"; }

# ---------------------------------------------------------------- packages

ensure_packages() {
  local missing=()
  local p
  for p in stress-ng postgresql-15 postgresql-client-15 apache2 apache2-utils; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "realapps: installing ${missing[*]}"
  # Debian starts a package's service on install (apache2 on *:80, a
  # postgresql cluster on 5432) unless policy-rc.d says no: say no for the
  # time of the install if nothing else does.
  local policy_added=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && policy_added=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  local rc=0
  timeout 600 apt-get update -qq >/dev/null 2>&1 || true
  timeout 900 apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || rc=$?
  [ $policy_added = 1 ] && rm -f /usr/sbin/policy-rc.d
  [ $rc = 0 ] || { echo "realapps: apt-get install ${missing[*]} failed ($rc)" >&2; exit 1; }
}
ensure_packages
for c in stress-ng ab apache2 setpriv ss; do
  command -v "$c" >/dev/null || { echo "realapps: $c not found" >&2; exit 1; }
done
for c in initdb pg_ctl pgbench psql pg_isready postgres; do
  [ -x "$PGBIN/$c" ] || { echo "realapps: $PGBIN/$c not found" >&2; exit 1; }
done
APACHE_MODS=/usr/lib/apache2/modules
[ -e "$APACHE_MODS/mod_mpm_prefork.so" ] || { echo "realapps: mod_mpm_prefork.so not found" >&2; exit 1; }

# ---------------------------------------------------------------- work dir, cleanup

W=$(mktemp -d /tmp/esem-realapps.XXXXXX) || exit 1
chmod 0711 "$W" # postgres and www-data must traverse it, not list it

# Which esem: the build tree, and its source's git commit when it has one
src=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["directories"]["source"])' \
  "$BUILD/meson-info/meson-info.json" 2>/dev/null)
ESEM_FROM="$BUILD"
if [ -n "$src" ] && git -C "$src" rev-parse --short HEAD >/dev/null 2>&1; then
  ESEM_FROM="$BUILD (git $(git -C "$src" rev-parse --short HEAD)$(git -C "$src" diff --quiet HEAD -- . 2>/dev/null || echo ', with uncommitted changes'))"
fi

# A snapshot of the esem binaries: the daemon and the shim must come from the
# same build even if the build tree is rebuilt while this runs.  The layout
# (host/, tools/, preload/) is the build tree's, which `esem run` relies on.
# (esemctl finds libesem.so through its RUNPATH $ORIGIN/../lib.)
mkdir -p "$W/esem-bin/host" "$W/esem-bin/tools" "$W/esem-bin/preload" "$W/esem-bin/lib"
cp "$ESEMD" "$W/esem-bin/host/" && cp "$ESEMCTL" "$ESEMRUN" "$W/esem-bin/tools/" &&
  cp "$SHIM" "$W/esem-bin/preload/" && cp -a "$BUILD"/lib/libesem.so* "$W/esem-bin/lib/" ||
  { echo "realapps: cannot copy the esem binaries" >&2; exit 1; }
rm -rf "$W/esem-bin/lib/"*.p
chmod -R a+rX "$W/esem-bin"
ESEMD=$W/esem-bin/host/esemd
ESEMCTL=$W/esem-bin/tools/esemctl
ESEMRUN=$W/esem-bin/tools/esem
SHIM=$W/esem-bin/preload/libesem-preload.so

FAILS=()
fail() { FAILS+=("$*"); say "FAIL: $*"; }

BG_PIDS=()   # background clients (stress-ng, pgbench, ab) we started
ROOT_ESEMD=; PG_ESEMD=
PG_STARTED=0; AP_STARTED=0
AP_CONF=

# Run as the postgres user.  AS_PG as an array, not a function, so that a
# background "${AS_PG[@]}" CMD & gives $! = the program's own pid (setpriv
# and env exec it), which cleanup can stop.
AS_PG=(setpriv --reuid="$PG_USER" --regid="$PG_USER" --init-groups env HOME="$W/pg")
as_pg() { "${AS_PG[@]}" "$@"; }

stop_pid() { # stop_pid PID: TERM, then KILL after 5 s (only the pid we started)
  local pid=$1
  [ -n "$pid" ] || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null
}

apache_pid() { [ -s "$W/apache/logs/httpd.pid" ] && cat "$W/apache/logs/httpd.pid"; }

stop_apache() {
  [ "$AP_STARTED" = 1 ] || return 0
  local pid
  pid=$(apache_pid)
  timeout 20 apache2 -f "$AP_CONF" -k stop >/dev/null 2>&1
  for _ in $(seq 100); do
    { [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; } || break
    sleep 0.1
  done
  [ -n "$pid" ] && stop_pid "$pid"
  AP_STARTED=0
}

stop_pg() {
  [ "$PG_STARTED" = 1 ] || return 0
  as_pg timeout 60 "$PGBIN/pg_ctl" -D "$W/pg/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
    as_pg timeout 30 "$PGBIN/pg_ctl" -D "$W/pg/data" -m immediate -w -t 20 stop >/dev/null 2>&1
  PG_STARTED=0
}

cleanup() {
  local p
  for p in "${BG_PIDS[@]}"; do stop_pid "$p"; done
  stop_apache
  stop_pg
  stop_pid "$ROOT_ESEMD"
  stop_pid "$PG_ESEMD"
  if [ ${#FAILS[@]} -eq 0 ] && [ "${ESEM_KEEP:-0}" != 1 ]; then
    rm -rf "$W"
  else
    say "realapps: logs and configs kept in $W"
  fi
}
trap cleanup EXIT
trap 'FAILS+=("interrupted"); exit 130' INT TERM

# ---------------------------------------------------------------- helpers

# CPU time (user+system, seconds) a process has used so far
cpu_of() {
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' \
    "/proc/$1/stat" 2>/dev/null || echo 0
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0) printf "%.2f", b / a; else print "-" }'; }

ROWS=()
row() { ROWS+=("$1|$2|$(num "$3")|$(num "$4")|$5"); } # program metric glibc esem ratio
num() { case $1 in *[0-9].[0-9]*) awk -v x="$1" 'BEGIN { printf "%.1f", x }' ;; *) printf '%s' "$1" ;; esac; }

# A snapshot of /dev/shm/sem.* (glibc's named semaphores live there)
shm_sems() { find /dev/shm -maxdepth 1 -name 'sem.*' -printf '%f\n' 2>/dev/null | sort; }
SHM_BEFORE=
shm_mark() { SHM_BEFORE=$(shm_sems); }
shm_check() { # shm_check WHAT: nothing new in /dev/shm/sem.* since shm_mark
  local now new
  now=$(shm_sems)
  new=$(comm -13 <(printf '%s\n' "$SHM_BEFORE") <(printf '%s\n' "$now") | grep . || true)
  if [ -n "$new" ]; then
    fail "$1: /dev/shm has new glibc semaphore files while on esem: $(echo $new)"
    return 1
  fi
  say "  /dev/shm/sem.*: nothing new ($1)"
}

# Show the semaphores a program holds on esem, as the daemon sees them.
capture_ls() { # capture_ls WHAT FILE [runner...]: esemctl ls once, into FILE
  local what=$1 file=$2; shift 2
  "$@" "$ESEMCTL" ls >"$file" 2>&1
  local n
  n=$(grep -cvE '^NAME/ID|^\(no semaphores\)' "$file")
  say "  esemctl ls during $what: $n semaphore(s) live on esem"
  head -n 6 "$file" | sed 's/^/    /'
  [ "$n" -gt 5 ] 2>/dev/null && say "    ... ($((n - 5)) more)"
  if [ "$n" -lt 1 ] 2>/dev/null; then
    fail "$what: esemctl ls shows no semaphore while it runs under esem"
  fi
  return 0
}

# Refused requests in an esemd log since line $2 ("audit:" lines)
audit_since() { tail -n +"$(( $2 + 1 ))" "$1" 2>/dev/null | grep -c 'audit:' || true; }
log_lines() { if [ -e "$1" ]; then wc -l <"$1"; else echo 0; fi; }

# The process maps the shim (it runs on esem) or not (glibc)
maps_shim() { grep -q 'libesem-preload' "/proc/$1/maps" 2>/dev/null; }

# esemd's work during a run: the operations it served and the CPU it used
probe_begin() { # probe_begin PID SOCKET [runner...]
  P_PID=$1; P_SOCK=$2; shift 2; P_RUN=("$@")
  P_CPU0=$(cpu_of "$P_PID"); P_OPS0=$(ops_ok); P_T0=$(date +%s.%N)
}
ops_ok() { "${P_RUN[@]}" env ESEM_SOCKET="$P_SOCK" "$ESEMCTL" stats 2>/dev/null | awk '/^operations ok/ { print $3 }'; }
probe_end() { # probe_end WHAT
  local cpu1 ops1 t1
  cpu1=$(cpu_of "$P_PID"); ops1=$(ops_ok); t1=$(date +%s.%N)
  awk -v w="$1" -v c0="$P_CPU0" -v c1="$cpu1" -v o0="${P_OPS0:-0}" -v o1="${ops1:-0}" -v t0="$P_T0" -v t1="$t1" 'BEGIN {
    dt = t1 - t0; if (dt <= 0) dt = 1
    printf "  esemd during %s: %d operations (%.0f/s), %.2f s of CPU in %.1f s (%.0f%% of one CPU)\n",
      w, o1 - o0, (o1 - o0) / dt, c1 - c0, dt, 100 * (c1 - c0) / dt }' | tee -a "$W/daemon-cpu"
}

wait_esemd() { # wait_esemd SOCKET [runner...]
  local sock=$1; shift
  for _ in $(seq 50); do
    "$@" env ESEM_SOCKET="$sock" "$ESEMCTL" stats >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}

# ---------------------------------------------------------------- the daemons

# Two private daemons, both with a socket in a 0700 directory of their own
# user (the daemon's own default layout): one as root for stress-ng and
# Apache (whose parent runs as root; its children connect before they
# setuid to www-data), one as postgres for PostgreSQL.  See docs/REALAPPS.md.
step "esemd"
mkdir -m 0700 "$W/esem-root"
ROOT_SOCK=$W/esem-root/esemd.sock
ROOT_LOG=$W/esemd-root.log
# shellcheck disable=SC2086 # ESEMD_ARGS: extra daemon options, word-split on purpose
"${PIN_D[@]}" "$ESEMD" --socket "$ROOT_SOCK" --foreground ${ESEMD_ARGS:-} >"$ROOT_LOG" 2>&1 </dev/null &
ROOT_ESEMD=$!
wait_esemd "$ROOT_SOCK" || { fail "esemd (root) did not answer on $ROOT_SOCK"; cat "$ROOT_LOG"; exit 1; }
say "  esemd as root:     pid $ROOT_ESEMD, socket $ROOT_SOCK, log $ROOT_LOG"

mkdir -m 0700 "$W/pg" && chown "$PG_USER:" "$W/pg"
as_pg mkdir -m 0700 "$W/pg/esem"
PG_SOCK=$W/pg/esem/esemd.sock
PG_LOG=$W/esemd-postgres.log # written through our stderr redirection
# shellcheck disable=SC2086
"${AS_PG[@]}" "${PIN_D[@]}" "$ESEMD" --socket "$PG_SOCK" --foreground ${ESEMD_ARGS:-} >"$PG_LOG" 2>&1 </dev/null &
PG_ESEMD=$!
wait_esemd "$PG_SOCK" as_pg || { fail "esemd (postgres) did not answer on $PG_SOCK"; cat "$PG_LOG"; exit 1; }
say "  esemd as postgres: pid $PG_ESEMD, socket $PG_SOCK, log $PG_LOG"

# ---------------------------------------------------------------- measured runs, alternated

# Each measured figure is taken REPS times, glibc then esem, alternated, and
# the table shows the median of each side: on a small, shared machine the
# load of other processes moves from minute to minute, and alternating puts
# both sides under the same conditions.
declare -A VALS # VALS[key.side] = "v1 v2 ..."
record() { VALS[$1.$2]="${VALS[$1.$2]:-}${VALS[$1.$2]:+ }${3:-}"; }
median() { # median of the numbers in $1 ("-" if none)
  printf '%s\n' $1 | grep -E '^[0-9.]+$' | sort -g |
    awk '{ v[NR] = $1 } END { if (!NR) { print "-"; exit } if (NR % 2) print v[(NR + 1) / 2]; else printf "%.10g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# the esem side's checks are shown in full on its first run only
first() { [ "$1" = 1 ]; }

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

# ---------------------------------------------------------------- 2. PostgreSQL

PGDATA=$W/pg/data
PGSOCKDIR=$W/pg/sock
PGLOG=

psql_q() { as_pg timeout 30 "$PGBIN/psql" -h "$PGSOCKDIR" -X -At -d postgres -c "$1"; }
pgbench_tps() { sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$1" | tail -n 1; }
pg_nsems() { as_pg env ESEM_SOCKET="$PG_SOCK" "$ESEMCTL" ls 2>/dev/null | grep -c '^#'; }

pg_start() { # pg_start glibc|esem
  local side=$1 rc
  PGLOG=$W/pg/postgresql.$side.log
  if [ "$side" = glibc ]; then
    as_pg timeout 90 "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGLOG" -w -t 60 start >/dev/null
  else
    # the postmaster (and every backend it forks) gets LD_PRELOAD from esem run
    as_pg env ESEM_SOCKET="$PG_SOCK" timeout 90 "$ESEMRUN" run -- \
      "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGLOG" -w -t 60 start >/dev/null
  fi
  rc=$?
  [ $rc = 0 ] || { fail "postgres on $side did not start (see $PGLOG)"; return 1; }
  PG_STARTED=1
  PG_POSTMASTER=$(head -n 1 "$PGDATA/postmaster.pid")
  if [ "$side" = esem ]; then
    maps_shim "$PG_POSTMASTER" || fail "postmaster $PG_POSTMASTER does not map libesem-preload.so"
  else
    maps_shim "$PG_POSTMASTER" && fail "glibc postmaster $PG_POSTMASTER maps libesem-preload.so"
  fi
  return 0
}

# PostgreSQL's own semaphore errors (posix_sema.c) in the log of this side
pg_semerr() { # pg_semerr glibc|esem
  if grep -E 'sem_(init|wait|post|trywait|destroy) failed|semaphore' "$PGLOG" >"$W/pg-semerr.$1"; then
    fail "postgres on $1 logged semaphore errors: $(head -n 2 "$W/pg-semerr.$1")"
  fi
}

pg_measure() { # pg_measure glibc|esem REP: fresh tables, pgbench -c 8 -T PGB_T
  local side=$1 rep=$2 out rc pid l0=0
  say "-- $side, run $rep"
  pg_start "$side" || return
  [ "$side" = esem ] && { l0=$(log_lines "$PG_LOG"); shm_mark; }
  say "  postmaster pid $PG_POSTMASTER$([ "$side" = esem ] && echo ", $(pg_nsems) semaphores on esem")"
  out=$W/pgbench-init.$side.$rep.out
  as_pg timeout 600 "$PGBIN/pgbench" -h "$PGSOCKDIR" -i -s 10 -q postgres >"$out" 2>&1 ||
    { fail "pgbench -i -s 10 on $side failed (see $out)"; stop_pg; return; }
  psql_q "CHECKPOINT" >/dev/null

  out=$W/pgbench.$side.$rep.out
  [ "$side" = esem ] && probe_begin "$PG_ESEMD" "$PG_SOCK" as_pg
  "${AS_PG[@]}" timeout $((PGB_T + 120)) "$PGBIN/pgbench" -h "$PGSOCKDIR" -c 8 -T "$PGB_T" postgres >"$out" 2>&1 &
  pid=$!
  BG_PIDS+=("$pid")
  if [ "$side" = esem ]; then
    sleep $((PGB_T / 2))
    first "$rep" && capture_ls "pgbench" "$W/pg.esemctl-ls" as_pg env ESEM_SOCKET="$PG_SOCK"
    shm_check "postgres, running"
  fi
  wait "$pid"; rc=$?
  [ "$side" = esem ] && probe_end "pgbench"
  grep -E '^(number of failed|tps)' "$out" | sed 's/^/    /'
  [ $rc = 0 ] || fail "pgbench -c 8 -T $PGB_T on $side: exit $rc (see $out)"
  grep -q '^number of failed transactions: 0 ' "$out" || fail "pgbench on $side: failed transactions (see $out)"
  record pgb "$side" "$(pgbench_tps "$out")"
  pg_semerr "$side"
  if [ "$side" = esem ]; then
    shm_check "postgres, after"
    local a
    a=$(audit_since "$PG_LOG" "$l0")
    [ "$a" = 0 ] || fail "postgres on esem: $a refused request(s) in the esemd log"
    first "$rep" && as_pg env ESEM_SOCKET="$PG_SOCK" "$ESEMCTL" stats >"$W/pg.esem-stats" 2>&1
  fi
  stop_pg
}

pg_crash() { # pg_crash glibc|esem: kill -9 of a backend mid-run, recovery, a run after it
  local side=$1 out rc pid victim l0=0 nsem_before=
  say "-- $side: kill -9 of a backend during pgbench -c 8 -T $PGB_CRASH_T"
  pg_start "$side" || return
  [ "$side" = esem ] && { l0=$(log_lines "$PG_LOG"); shm_mark; nsem_before=$(pg_nsems); }
  out=$W/pgbench-crash.$side.out
  "${AS_PG[@]}" timeout $((PGB_CRASH_T + 120)) "$PGBIN/pgbench" -h "$PGSOCKDIR" -c 8 -T "$PGB_CRASH_T" postgres >"$out" 2>&1 &
  pid=$!
  BG_PIDS+=("$pid")
  sleep 3
  victim=$(psql_q "SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' AND application_name = 'pgbench' AND pid <> pg_backend_pid() LIMIT 1")
  if [ -z "$victim" ]; then
    fail "postgres on $side: no pgbench backend found to kill"
  else
    kill -9 "$victim"
    say "  killed backend $victim (postmaster $PG_POSTMASTER)"
  fi
  wait "$pid" # pgbench aborts: the postmaster terminated its other connections too
  local ok=0 pm_now
  for _ in $(seq 120); do
    if as_pg "$PGBIN/pg_isready" -q -h "$PGSOCKDIR" && psql_q "SELECT 1" >/dev/null 2>&1; then ok=1; break; fi
    sleep 0.5
  done
  pm_now=$(head -n 1 "$PGDATA/postmaster.pid" 2>/dev/null)
  if [ $ok = 1 ] && grep -q 'terminated by signal 9' "$PGLOG" &&
     grep -q 'all server processes terminated; reinitializing' "$PGLOG" && [ "$pm_now" = "$PG_POSTMASTER" ]; then
    say "  postmaster $PG_POSTMASTER reinitialised shared memory and accepts connections again"
    record pgrec "$side" yes
  else
    fail "postgres on $side did not recover from kill -9 of backend $victim (see $PGLOG)"
    record pgrec "$side" no
  fi
  if [ "$side" = esem ]; then
    local nsem_after
    nsem_after=$(pg_nsems)
    say "  semaphores on esem: $nsem_before before the crash, $nsem_after after recovery"
    [ "$nsem_after" = "$nsem_before" ] || fail "postgres on esem: $nsem_before semaphores before the crash, $nsem_after after"
  fi
  out=$W/pgbench-after.$side.out
  as_pg timeout $((PGB_AFTER_T + 120)) "$PGBIN/pgbench" -h "$PGSOCKDIR" -c 8 -T "$PGB_AFTER_T" postgres >"$out" 2>&1
  rc=$?
  grep -E '^(number of failed|tps)' "$out" | sed 's/^/    /'
  [ $rc = 0 ] || fail "pgbench after recovery on $side: exit $rc (see $out)"
  grep -q '^number of failed transactions: 0 ' "$out" || fail "pgbench after recovery on $side: failed transactions"
  record pgafter "$side" "$(pgbench_tps "$out")"
  pg_semerr "$side"
  if [ "$side" = esem ]; then
    shm_check "postgres crash and recovery"
    local a
    a=$(audit_since "$PG_LOG" "$l0")
    [ "$a" = 0 ] || fail "postgres on esem: $a refused request(s) in the esemd log"
  fi
  stop_pg
}

if want pgbench; then
step "2. PostgreSQL 15: pgbench -i -s 10, pgbench -c 8 -T $PGB_T (esem: esem run -- pg_ctl start, as $PG_USER)"
as_pg mkdir -m 0700 "$PGDATA" "$PGSOCKDIR"
if as_pg timeout 180 "$PGBIN/initdb" -D "$PGDATA" -A trust -U postgres --no-locale -E UTF8 --no-sync \
     >"$W/pg/initdb.log" 2>&1; then
  cat >>"$PGDATA/postgresql.conf" <<EOF

# esem realapps: Unix socket in a private directory only, no TCP
listen_addresses = ''
unix_socket_directories = '$PGSOCKDIR'
EOF
  # Debian's build uses unnamed POSIX semaphores (USE_UNNAMED_POSIX_SEMAPHORES,
  # PostgreSQL's default on Linux): the binary imports sem_init, not semget.
  say "  postgres imports: $(nm -D "$PGBIN/postgres" | awk '$1 == "U" && $2 ~ /^sem(_|get|op)/ { sub(/@.*/, "", $2); printf "%s ", $2 }')"
  for r in $(seq "$REPS"); do
    pg_measure glibc "$r"
    pg_measure esem "$r"
  done
  pg_crash glibc
  pg_crash esem
else
  fail "initdb failed (see $W/pg/initdb.log)"
fi
fi

# ---------------------------------------------------------------- 3. Apache

free_port() { # a free 127.0.0.1 TCP port from $1 on
  local p=$1
  while ss -Htln "sport = :$p" | grep -q .; do p=$((p + 1)); done
  echo "$p"
}
PORT1=$(free_port 18080)
PORT2=$(free_port $((PORT1 + 1)))
URL=http://127.0.0.1:$PORT1/index.html

mkdir -p "$W/apache/htdocs" "$W/apache/logs"
head -c 3072 /dev/urandom | base64 >"$W/apache/htdocs/index.html" # a 4 KiB static file
chmod -R a+rX "$W/apache"
AP_CONF=$W/apache/httpd.conf
AP_LOG=$W/apache/logs/error.log
cat >"$AP_CONF" <<EOF
# esem realapps: a throwaway Apache, prefork, two loopback listeners so that
# the accept mutex is used, and that mutex on POSIX semaphores.
ServerRoot "$W/apache"
ServerName 127.0.0.1
PidFile "$W/apache/logs/httpd.pid"
ErrorLog "$AP_LOG"
LogLevel notice
LoadModule mpm_prefork_module $APACHE_MODS/mod_mpm_prefork.so
LoadModule authz_core_module $APACHE_MODS/mod_authz_core.so
Listen 127.0.0.1:$PORT1
Listen 127.0.0.1:$PORT2
User www-data
Group www-data
Mutex posixsem default
DocumentRoot "$W/apache/htdocs"
<Directory "$W/apache/htdocs">
    Require all granted
</Directory>
StartServers 4
MinSpareServers 4
MaxSpareServers 8
MaxRequestWorkers 16
MaxConnectionsPerChild 0
EOF

ab_field() { # ab_field FILE 'Requests per second|Failed requests|...'
  sed -n "s/^$2: *\([0-9.]*\).*/\1/p" "$1" | head -n 1
}
ab_ok() { timeout 5 ab -q -n 1 -c 1 "$URL" 2>/dev/null | grep -q '^Complete requests: *1'; }
ab_check() { # ab_check FILE N WHAT: complete, no failed request, no non-2xx
  [ "$(ab_field "$1" 'Complete requests')" = "$2" ] || fail "$3: not all $2 requests completed (see $1)"
  [ "$(ab_field "$1" 'Failed requests')" = 0 ] || fail "$3: failed requests (see $1)"
  grep -q '^Non-2xx' "$1" && fail "$3: non-2xx responses (see $1)"
  grep -E '^(Complete requests|Failed requests|Non-2xx|Requests per second)' "$1" | sed 's/^/    /'
}

# ab_check_kill FILE N WHAT: a run in which one child was killed: at most
# the one connection it was serving fails (a lost accept mutex would stop
# the server: ab would time out or fail many), no non-2xx.  ab counts one
# connection cut mid-response up to three times, once in each of Receive
# (the reset), Length (a body shorter than the others) and Exceptions (the
# poll error): at most one of each, and no failed connect.
ab_check_kill() {
  local ndone failed kinds
  ndone=$(ab_field "$1" 'Complete requests'); failed=$(ab_field "$1" 'Failed requests')
  [ -n "$ndone" ] && [ "$ndone" -ge $(($2 - 1)) ] || fail "$3: $ndone of $2 requests completed (see $1)"
  kinds=$(sed -n 's/^ *(Connect: \([0-9]*\), Receive: \([0-9]*\), Length: \([0-9]*\), Exceptions: \([0-9]*\))/\1 \2 \3 \4/p' "$1")
  if [ -n "$failed" ] && [ "$failed" != 0 ]; then
    # shellcheck disable=SC2086 # four numbers
    set -- "$1" "$2" "$3" $kinds
    [ "$#" = 7 ] && [ "$4" = 0 ] && [ "$5" -le 1 ] && [ "$6" -le 1 ] && [ "$7" -le 1 ] ||
      fail "$3: $failed failed requests, more than the killed child's one connection (see $1)"
  fi
  grep -q '^Non-2xx' "$1" && fail "$3: non-2xx responses (see $1)"
  grep -E '^(Complete requests|Failed requests|Non-2xx|Requests per second)' "$1" | sed 's/^/    /'
}

ap_start() { # ap_start glibc|esem
  local side=$1 rc
  if [ "$side" = glibc ]; then
    timeout 30 apache2 -f "$AP_CONF" -k start
  else
    ESEM_SOCKET=$ROOT_SOCK timeout 30 "$ESEMRUN" run -- apache2 -f "$AP_CONF" -k start
  fi
  rc=$?
  [ $rc = 0 ] || { fail "apache on $side did not start ($rc, see $AP_LOG)"; return 1; }
  AP_STARTED=1
  for _ in $(seq 100); do
    [ -n "$(apache_pid)" ] && ab_ok && break
    sleep 0.1
  done
  AP_PID=$(apache_pid)
  [ -n "$AP_PID" ] || { fail "apache on $side wrote no pid file"; return 1; }
  if [ "$side" = esem ]; then
    maps_shim "$AP_PID" || fail "apache parent $AP_PID does not map libesem-preload.so"
  else
    maps_shim "$AP_PID" && fail "glibc apache $AP_PID maps libesem-preload.so"
  fi
  say "  apache parent pid $AP_PID (root), children as $(ps -o user= --ppid "$AP_PID" | sort -u | paste -sd, -)"
}

# Apache's own errors since line $2 of its log: the accept mutex (AH00144,
# AH00146), child crashes (AH00052), anything at error level or worse
ap_errors() { # ap_errors SIDE FROM_LINE
  tail -n +"$(($2 + 1))" "$AP_LOG" >"$W/apache-log.$1.$2"
  if grep -E 'mutex|AH0014[4-6]|AH00052|\[([a-z_]+:)?(crit|alert|emerg|error)\]' "$W/apache-log.$1.$2" >"$W/apache-err.$1.$2"; then
    fail "apache on $1 logged errors: $(head -n 2 "$W/apache-err.$1.$2")"
  fi
}

ap_measure() { # ap_measure glibc|esem REP: ab -n AB_N -c 8
  local side=$1 rep=$2 out pid l0=0 e0
  say "-- $side, run $rep"
  e0=$(log_lines "$AP_LOG")
  ap_start "$side" || { stop_apache; return; }
  [ "$side" = esem ] && { l0=$(log_lines "$ROOT_LOG"); shm_mark; probe_begin "$ROOT_ESEMD" "$ROOT_SOCK"; }
  out=$W/ab.$side.$rep.out
  timeout 600 ab -n "$AB_N" -c 8 "$URL" >"$out" 2>&1 &
  pid=$!
  BG_PIDS+=("$pid")
  if [ "$side" = esem ]; then
    sleep 1
    first "$rep" && capture_ls "ab" "$W/apache.esemctl-ls" env ESEM_SOCKET="$ROOT_SOCK"
    shm_check "apache, running"
  fi
  wait "$pid" || fail "ab -n $AB_N on $side: exit $? (see $out)"
  [ "$side" = esem ] && probe_end "ab"
  ab_check "$out" "$AB_N" "ab on $side"
  record ab "$side" "$(ab_field "$out" 'Requests per second')"
  record abf "$side" "$(ab_field "$out" 'Failed requests')"
  if [ "$side" = esem ]; then
    first "$rep" && ESEM_SOCKET=$ROOT_SOCK "$ESEMCTL" stats >"$W/apache.esem-stats" 2>&1
    shm_check "apache, after"
    local a
    a=$(audit_since "$ROOT_LOG" "$l0")
    [ "$a" = 0 ] || fail "apache on esem: $a refused request(s) in the esemd log"
  fi
  stop_apache
  ap_errors "$side" "$e0"
}

# graceful restart while ab runs: the parent makes a new accept mutex, the
# old children finish their requests on the old one; no request may fail
ap_graceful() { # ap_graceful glibc|esem
  local side=$1 out pid l0=0 e0 g0 g1 during=0
  say "-- $side: apache2 -k graceful while ab -n $AB_GRACE_N -c 8 runs"
  e0=$(log_lines "$AP_LOG")
  ap_start "$side" || { stop_apache; return; }
  [ "$side" = esem ] && { l0=$(log_lines "$ROOT_LOG"); shm_mark; }
  g0=$(grep -c 'Graceful restart requested' "$AP_LOG")
  out=$W/ab-graceful.$side.out
  timeout 600 ab -n "$AB_GRACE_N" -c 8 "$URL" >"$out" 2>&1 &
  pid=$!
  BG_PIDS+=("$pid")
  sleep 0.5
  kill -0 "$pid" 2>/dev/null && during=1
  timeout 30 apache2 -f "$AP_CONF" -k graceful || fail "apache2 -k graceful on $side failed"
  kill -0 "$pid" 2>/dev/null || during=0
  if [ "$side" = esem ]; then
    sleep 0.5
    capture_ls "ab, after the graceful restart" "$W/apache-graceful.esemctl-ls" env ESEM_SOCKET="$ROOT_SOCK"
  fi
  wait "$pid" || fail "ab during graceful on $side: exit $? (see $out)"
  ab_check "$out" "$AB_GRACE_N" "ab during graceful restart on $side"
  record abg "$side" "$(ab_field "$out" 'Requests per second')"
  record abgf "$side" "$(ab_field "$out" 'Failed requests')"
  g1=$(grep -c 'Graceful restart requested' "$AP_LOG")
  [ "$during" = 1 ] || fail "apache on $side: ab was not running when the graceful restart was signalled"
  [ "$g1" -gt "$g0" ] || fail "apache on $side: no graceful restart in $AP_LOG"
  [ "$(apache_pid)" = "$AP_PID" ] || fail "apache on $side: the parent changed across the graceful restart"
  ab_ok || fail "apache on $side does not answer after the graceful restart"
  say "  graceful restart done: parent $AP_PID kept, children now $(ps -o pid= --ppid "$AP_PID" | wc -l)"
  if [ "$side" = esem ]; then
    shm_check "apache graceful restart"
    local a
    a=$(audit_since "$ROOT_LOG" "$l0")
    [ "$a" = 0 ] || fail "apache on esem: $a refused request(s) in the esemd log"
  fi
  stop_apache
  ap_errors "$side" "$e0"
}

if want apache; then
step "3. Apache 2.4 prefork, Mutex posixsem, Listen 127.0.0.1:$PORT1 and :$PORT2, ab -n $AB_N -c 8 (esem: esem run -- apache2 -k start)"
if timeout 30 apache2 -f "$AP_CONF" -t >"$W/apache-configtest.out" 2>&1; then
  for r in $(seq "$REPS"); do
    ap_measure glibc "$r"
    ap_measure esem "$r"
  done
  ap_graceful glibc
  ap_graceful esem
else
  fail "apache config test failed: $(head -n 3 "$W/apache-configtest.out")"
fi
fi

# ---------------------------------------------------------------- 3b. Apache, Mutex sysvsem

# The same server with its accept mutex on a System V set (APR takes it
# with SEM_UNDO and hands the set to www-data with IPC_SET).  The mutex's
# holder is the set's sempid while its value is 0 (the child blocked in
# accept()); killing it with SIGKILL must give the mutex back (SEM_UNDO)
# and lose no request.
AP_CONF_SYSV=$W/apache/httpd-sysvsem.conf
sed 's/^Mutex posixsem default$/Mutex sysvsem default/' "$AP_CONF" >"$AP_CONF_SYSV"

sysv_sets() { # sysv_sets glibc|esem: "semid value pid" of every 1-semaphore set
  if [ "$1" = glibc ]; then
    local id
    for id in $(kernel_sets); do
      ipcs -s -i "$id" 2>/dev/null | awk -v id="$id" '$1 == "0" && NF >= 5 { print id, $2, $5 }'
    done
  else
    ESEM_SOCKET=$ROOT_SOCK "$ESEMCTL" --json ipcs 2>/dev/null |
      python3 -c 'import json, sys; [print(s["semid"]) for s in json.load(sys.stdin) if s["nsems"] == 1]' |
      while read -r id; do
        ESEM_SOCKET=$ROOT_SOCK "$ESEMCTL" --json ipcs "$id" 2>/dev/null |
          python3 -c 'import json, sys; d = json.load(sys.stdin); s = d["sems"][0]; print(d["semid"], s["value"], s["pid"])'
      done
  fi
}

ap_sysv() { # ap_sysv glibc|esem REP: ab -n AB_N -c 8; on the first run, the kill -9
  local side=$1 rep=$2 out pid l0=0 e0 before holder="" set=""
  local conf_saved=$AP_CONF
  say "-- $side, run $rep"
  AP_CONF=$AP_CONF_SYSV
  e0=$(log_lines "$AP_LOG")
  before=$(sysv_sets "$side" | awk '{ print $1 }')
  [ "$side" = esem ] && { l0=$(log_lines "$ROOT_LOG"); sysv_mark; }
  ap_start "$side" || { stop_apache; AP_CONF=$conf_saved; return; }
  out=$W/ab-sysv.$side.$rep.out
  # the kill run: ab -r goes on after a receive error (the connection the
  # killed child had accepted may be reset, on either side)
  local abr=()
  first "$rep" && abr=(-r)
  timeout 600 ab "${abr[@]}" -n "$AB_N" -c 8 "$URL" >"$out" 2>&1 &
  pid=$!
  BG_PIDS+=("$pid")
  if first "$rep"; then
    # the accept mutex: a set Apache made; its holder: sempid while value 0
    for _ in $(seq 50); do
      read -r set _ holder < <(sysv_sets "$side" | grep -vwF -f <(printf '%s\n' $before x) | awk '$2 == 0 && $3 > 0' | head -n 1)
      [ -n "$holder" ] && [ "$holder" != "$AP_PID" ] && break
      holder=""
      sleep 0.1
    done
    if [ -n "$holder" ]; then
      kill -KILL "$holder" && say "  killed $holder, the child holding the accept mutex (set $set)"
      record apkill "$side" 1
    else
      fail "apache sysvsem on $side: no holder of the accept mutex found"
    fi
  fi
  wait "$pid" || fail "ab -n $AB_N (sysvsem) on $side: exit $? (see $out)"
  if first "$rep"; then
    ab_check_kill "$out" "$AB_N" "ab (sysvsem) on $side, holder killed"
  else
    ab_check "$out" "$AB_N" "ab (sysvsem) on $side"
  fi
  ab_ok || fail "apache (sysvsem) on $side does not answer after the kill -9"
  record absysv "$side" "$(ab_field "$out" 'Requests per second')"
  record absysvf "$side" "$(ab_field "$out" 'Failed requests')"
  if [ "$side" = esem ]; then
    first "$rep" && ESEM_SOCKET=$ROOT_SOCK "$ESEMCTL" ipcs | sed 's/^/    /'
    sysv_check "apache sysvsem"
    local a
    a=$(audit_since "$ROOT_LOG" "$l0")
    [ "$a" = 0 ] || fail "apache (sysvsem) on esem: $a refused request(s) in the esemd log"
  fi
  stop_apache
  # AH00052 (a child died) is the kill we made; anything else is an error
  tail -n +"$((e0 + 1))" "$AP_LOG" | grep -v 'AH00052' >"$W/apache-sysv-log.$side.$rep"
  if grep -E 'mutex|AH0014[4-6]|\[([a-z_]+:)?(crit|alert|emerg|error)\]' "$W/apache-sysv-log.$side.$rep" >"$W/apache-sysv-err.$side.$rep"; then
    fail "apache (sysvsem) on $side logged errors: $(head -n 2 "$W/apache-sysv-err.$side.$rep")"
  fi
  AP_CONF=$conf_saved
}

if want apache-sysv; then
step "3b. Apache 2.4 prefork, Mutex sysvsem, ab -n $AB_N -c 8; kill -9 of the accept-mutex holder on the first run"
if timeout 30 apache2 -f "$AP_CONF_SYSV" -t >"$W/apache-sysv-configtest.out" 2>&1; then
  for r in $(seq "$REPS"); do
    ap_sysv glibc "$r"
    ap_sysv esem "$r"
  done
else
  fail "apache (sysvsem) config test failed: $(head -n 3 "$W/apache-sysv-configtest.out")"
fi
fi

# ---------------------------------------------------------------- results

# row PROGRAM METRIC KEY [ratio]: medians of both sides, their ratio
row_of() {
  local g e
  g=$(median "${VALS[$3.glibc]:-}")
  e=$(median "${VALS[$3.esem]:-}")
  row "$1" "$2" "$g" "$e" "$([ "${4:-ratio}" = ratio ] && ratio "${g/-/0}" "${e/-/0}" || echo -)"
}
row_of "stress-ng --sem 2" "bogo ops/s (real time)" sng
row_of "stress-ng --sem 2, core" "bogo ops/s, ESEM_PRIVATE=esem" sngcore
row_of "stress-ng --sem-sysv 2" "bogo ops/s (real time)" sngsysv
row_of "postgresql-15 pgbench" "tps (-c 8 -T $PGB_T, scale 10)" pgb
pgrec_none=no
want pgbench || pgrec_none=-
row "postgresql-15 kill -9" "backend killed, server recovered" "${VALS[pgrec.glibc]:-$pgrec_none}" "${VALS[pgrec.esem]:-$pgrec_none}" "-"
row_of "postgresql-15 after crash" "tps (-c 8 -T $PGB_AFTER_T)" pgafter
row_of "apache2 prefork" "requests/s (ab -n $AB_N -c 8)" ab
row_of "apache2 prefork" "failed requests" abf none
row_of "apache2 graceful restart" "requests/s (ab -n $AB_GRACE_N -c 8)" abg
row_of "apache2 graceful restart" "failed requests" abgf none
row_of "apache2 Mutex sysvsem" "requests/s (ab -n $AB_N -c 8)" absysv
row_of "apache2 Mutex sysvsem" "failed requests (run 1: holder killed)" absysvf none

step "results"
say "command: $0${ARGS_SHOWN:+ $ARGS_SHOWN}"
say "date: $(date -u '+%Y-%m-%d %H:%M UTC'); nproc: $(nproc); CPU: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1); kernel: $(uname -r)"
say "esem: $ESEM_FROM"
say "esem tuning: esemd ${ESEMD_ARGS:-(defaults)}; clients ESEM_SPIN_US=${ESEM_SPIN_US:-(default)}"
say "load average at start: $LOAD_START; at end: $(cut -d' ' -f1-3 /proc/loadavg)"
[ -n "$PINNED" ] && say "pinned: $PINNED"
[ "$REPS" -gt 1 ] && say "each measured figure: the median of $REPS runs per side, glibc and esem alternated"
say ""
printf '%-26s %-34s %12s %12s %10s\n' program metric glibc esem esem/glibc
printf '%-26s %-34s %12s %12s %10s\n' -------------------------- ---------------------------------- ------------ ------------ ----------
for r in "${ROWS[@]}"; do
  IFS='|' read -r a b c d e <<<"$r"
  printf '%-26s %-34s %12s %12s %10s\n' "$a" "$b" "$c" "$d" "$e"
done
if [ "$REPS" -gt 1 ]; then
  say ""
  say "every run (glibc | esem):"
  for k in sng sngcore sngsysv pgb ab absysv; do
    say "  $k: ${VALS[$k.glibc]:-} | ${VALS[$k.esem]:-}"
  done
fi
if [ -n "$MD_OUT" ]; then
  DAEMON_CPU=$(sed 's/^ *esemd during /* during /' "$W/daemon-cpu" 2>/dev/null)
  {
    echo "* command: \`scripts/realapps.sh${ARGS_SHOWN:+ $ARGS_SHOWN}\`"
    echo "* date: $(date -u '+%Y-%m-%d %H:%M UTC'); tree: $(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "* machine: $(nproc --all) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), kernel $(uname -r)"
    echo "* esem tuning: esemd ${ESEMD_ARGS:-(defaults)}; clients ESEM_SPIN_US=${ESEM_SPIN_US:-(default)}"
    echo "* load average at start: $LOAD_START; at end: $(cut -d' ' -f1-3 /proc/loadavg)"
    [ -n "$PINNED" ] && echo "* pinned: $PINNED"
    [ "$REPS" -gt 1 ] && echo "* each figure: the median of $REPS runs per side, glibc and esem alternated"
    echo
    echo "| program | metric | glibc | esem | esem/glibc |"
    echo "|---|---|---:|---:|---:|"
    for r in "${ROWS[@]}"; do
      IFS='|' read -r a b c d e <<<"$r"
      echo "| $a | $b | $c | $d | $e |"
    done
    if [ "$REPS" -gt 1 ]; then
      echo
      echo "Every run (glibc | esem):"
      echo
      for k in sng sngcore sngsysv pgb ab absysv; do
        echo "* $k: ${VALS[$k.glibc]:-} | ${VALS[$k.esem]:-}"
      done
    fi
    if [ -n "${DAEMON_CPU:-}" ]; then
      echo
      echo "esemd's CPU while the programs ran on esem:"
      echo
      printf '%s\n' "$DAEMON_CPU"
    fi
    [ ${#FAILS[@]} -gt 0 ] && { echo; echo "**${#FAILS[@]} problem(s)**:"; for f in "${FAILS[@]}"; do echo "* $f"; done; }
  } >"$MD_OUT"
fi
if [ ${#FAILS[@]} -gt 0 ]; then
  say ""
  say "${#FAILS[@]} problem(s):"
  for f in "${FAILS[@]}"; do say "  - $f"; done
  exit 1
fi
say "all programs ran on glibc and on esem without a semaphore error"
exit 0
