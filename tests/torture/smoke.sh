#!/bin/bash
# CI's esem-torture smoke: a private esemd, 4 processes x 3 threads, 20 s,
# a kill -9 every 100 ms and now and then a SIGSTOP, and a restart without
# loss every 2 s (a new esemd takes the state over); every permit accounted
# for, the SEM_UNDO mutex back at 1, and esemd still alive and answering.
#   smoke.sh ESEMD ESEMCTL ESEM_TORTURE
set -u
esemd=$1 ctl=$2 torture=$3
T=$(mktemp -d /tmp/esem-torture.XXXXXX)
trap '"$ctl" -s "$T/s" stop >/dev/null 2>&1; rm -rf "$T"' EXIT
"$esemd" -s "$T/s" --log "$T/log" --allow-takeover || { echo "esemd did not start"; exit 1; }
ESEMD=$esemd ESEM_SOCKET=$T/s "$torture" --procs 4 --threads 3 --seconds 20 --kill-ms 100 --stop \
  --esemctl "$ctl -s $T/s" --restart-ms 2000
rc=$?
"$ctl" -s "$T/s" stats >/dev/null || { echo "esemd stopped answering"; exit 1; }
# the daemons a restart started detach and log beside the socket ($T/s.log)
touch "$T/s.log"
grep -E 'internal:' "$T/log" "$T/s.log" && { echo "esemd logged internal errors"; exit 1; }
n=$(cat "$T/log" "$T/s.log" | grep -c 'took over from pid')
echo "esemd restarted without loss $n time(s)"
[ "$n" -ge 5 ] || { echo "too few restarts"; exit 1; }
exit $rc
