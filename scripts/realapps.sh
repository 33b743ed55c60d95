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
# The set-up, the daemons and the table are here; each program's runs are in
# scripts/realapps/ (stress-ng.sh, postgresql.sh, apache.sh), sourced below.
# shellcheck source-path=SCRIPTDIR
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

# ---------------------------------------------------------------- the programs
# 1. stress-ng, 2. PostgreSQL, 3. Apache: one file each under scripts/realapps/,
# run here in this order, in this shell (shellcheck -x follows them).
# shellcheck source=realapps/stress-ng.sh
. "$top/scripts/realapps/stress-ng.sh"
# shellcheck source=realapps/postgresql.sh
. "$top/scripts/realapps/postgresql.sh"
# shellcheck source=realapps/apache.sh
. "$top/scripts/realapps/apache.sh"

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
