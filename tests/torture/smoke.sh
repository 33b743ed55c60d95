#!/bin/bash
# CI's esem-torture smoke: a private esemd, 4 processes x 3 threads, 20 s,
# a kill -9 every 100 ms and now and then a SIGSTOP; every permit accounted
# for, the SEM_UNDO mutex back at 1, and esemd still alive and answering.
#   smoke.sh ESEMD ESEMCTL ESEM_TORTURE
set -u
esemd=$1 ctl=$2 torture=$3
T=$(mktemp -d /tmp/esem-torture.XXXXXX)
trap '"$ctl" -s "$T/s" stop >/dev/null 2>&1; rm -rf "$T"' EXIT
"$esemd" -s "$T/s" --log "$T/log" || { echo "esemd did not start"; exit 1; }
ESEM_SOCKET=$T/s "$torture" --procs 4 --threads 3 --seconds 20 --kill-ms 100 --stop \
  --esemctl "$ctl -s $T/s"
rc=$?
"$ctl" -s "$T/s" stats >/dev/null || { echo "esemd stopped answering"; exit 1; }
grep -E 'internal:' "$T/log" && { echo "esemd logged internal errors"; exit 1; }
exit $rc
