# Part of scripts/realapps.sh (sourced by it, not run alone): PostgreSQL 15: pgbench -c 8, and a kill -9 of a backend with crash recovery.
# It uses the helpers, daemons and work directory set up there.
# shellcheck shell=bash

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
