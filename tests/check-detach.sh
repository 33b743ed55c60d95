#!/bin/sh
# A detached esemd keeps none of its starter's descriptors: with its
# standard output a pipe, "esemd | cat" must end once esemd is up (a daemon
# that kept the pipe would hang "./run demo | tail" and CI jobs forever).
# usage: check-detach.sh ESEMD ESEMCTL
set -eu
esemd=$1 esemctl=$2
d=$(mktemp -d /tmp/esem-detach-XXXXXX)
cleanup() { "$esemctl" --socket "$d/esemd.sock" stop >/dev/null 2>&1 || true; rm -rf "$d"; }
trap cleanup EXIT
if ! timeout 20 sh -c "\"$esemd\" --socket \"$d/esemd.sock\" | cat >/dev/null"; then
  echo "FAIL: 'esemd | cat' did not end within 20 s: the daemon kept its starter's stdout" >&2
  exit 1
fi
"$esemctl" --socket "$d/esemd.sock" stats >/dev/null || { echo "FAIL: the daemon is not up" >&2; exit 1; }
pid=$(grep -o 'esemd\[[0-9]*\]' "$d/esemd.log" | head -1 | tr -dc 0-9)
for fd in 0 1 2; do
  t=$(readlink "/proc/$pid/fd/$fd" || true)
  [ "$t" = /dev/null ] || { echo "FAIL: esemd fd $fd is $t, not /dev/null" >&2; exit 1; }
done
echo "ok: a detached esemd (pid $pid) released its starter's stdio (fds 0-2 are /dev/null)"
