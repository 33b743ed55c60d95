# Part of scripts/realapps.sh (sourced by it, not run alone): Apache 2.4 prefork with its accept mutex on POSIX semaphores and on a System V set.
# It uses the helpers, daemons and work directory set up there.
# shellcheck shell=bash

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
