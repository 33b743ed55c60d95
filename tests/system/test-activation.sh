#!/bin/bash
# esemd under systemd's protocols, without systemd as PID 1:
# systemd-socket-activate (Debian's systemd package) holds the listening
# socket and starts esemd at the first connection (LISTEN_FDS); a small
# listener on NOTIFY_SOCKET records READY=1, STATUS= and STOPPING=1.
#   ESEMD=... ESEMCTL=... test-activation.sh
set -u
: "${ESEMD:?}" "${ESEMCTL:?}"
command -v systemd-socket-activate >/dev/null || { echo "SKIP: systemd-socket-activate not installed"; exit 77; }
T=$(mktemp -d /tmp/esem-activation.XXXXXX)
chmod 700 "$T"
fails=0
pass() { echo "ok   - $*"; }
fail() { echo "FAIL - $*"; fails=$((fails + 1)); }
ACT= LSN=
cleanup() { [ -n "$ACT" ] && kill "$ACT" 2>/dev/null; [ -n "$LSN" ] && kill "$LSN" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT

# the notify listener: every datagram, with the time it came (monotonic ns)
python3 - "$T/notify" "$T/notes" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "w", buffering=1) as out:
    while True:
        d = s.recv(4096).decode()
        for line in d.split("\n"):
            out.write("%d %s\n" % (time.monotonic_ns(), line))
PY
LSN=$!
for _ in $(seq 50); do [ -S "$T/notify" ] && break; sleep 0.05; done

systemd-socket-activate --seqpacket -l "$T/esemd.sock" -E NOTIFY_SOCKET="$T/notify" \
  "$ESEMD" --foreground --socket "$T/esemd.sock" --log "$T/esemd.log" --allow-takeover >"$T/act.out" 2>&1 &
ACT=$!
for _ in $(seq 50); do [ -S "$T/esemd.sock" ] && break; sleep 0.05; done
[ -S "$T/esemd.sock" ] && pass "systemd-socket-activate listens on $T/esemd.sock" || fail "no socket"
[ -e "$T/esemd.log" ] && fail "esemd started before the first connection" || pass "esemd not started yet"
"$ESEMCTL" --socket "$T/esemd.sock" ping >"$T/ping" 2>&1 && pass "the first connection started esemd and was answered: $(head -c 80 "$T/ping")" || fail "ping: $(cat "$T/ping")"
answered=$(python3 -c 'import time; print(time.monotonic_ns())')
sleep 0.3
ready=$(awk '$2 == "READY=1" { print $1; exit }' "$T/notes")
[ -n "$ready" ] && pass "READY=1 received" || fail "no READY=1 (notes: $(cat "$T/notes"))"
[ -n "$ready" ] && [ "$ready" -lt "$answered" ] && pass "READY=1 came before the first request was answered" || fail "READY=1 after the answer ($ready vs $answered)"
grep -q 'STATUS=serving .*socket-activated' "$T/notes" && pass "STATUS says it is socket-activated" || fail "STATUS: $(grep STATUS "$T/notes" | head -2)"
grep -q 'MAINPID=' "$T/notes" && pass "MAINPID given" || fail "no MAINPID"
grep -q 'start: socket' "$T/esemd.log" && pass "esemd logged its start" || fail "log: $(head -3 "$T/esemd.log")"
# a client session changes the counts: a STATUS= line with them
"$ESEMCTL" --socket "$T/esemd.sock" stats >/dev/null 2>&1
sleep 1.2
grep -q 'STATUS=.* clients, .* semaphores and sets' "$T/notes" && pass "STATUS= with the live counts" || fail "no counts in STATUS: $(grep STATUS "$T/notes" | tail -2)"
pid=$(grep -o 'MAINPID=[0-9]*' "$T/notes" | head -1 | cut -d= -f2)
# a restart without loss (the unit's ExecReload): the new daemon takes the
# activated socket over and tells systemd it is the main process now
NOTIFY_SOCKET=$T/notify ESEMD=$ESEMD "$ESEMCTL" --socket "$T/esemd.sock" restart -- --log "$T/esemd.log" >"$T/restart" 2>&1 &&
  pass "esemctl restart: $(cat "$T/restart")" || fail "restart: $(cat "$T/restart")"
sleep 0.3
newpid=$(grep -o 'MAINPID=[0-9]*' "$T/notes" | tail -1 | cut -d= -f2)
[ -n "$newpid" ] && [ "$newpid" != "$pid" ] && pass "MAINPID=$newpid from the new daemon" || fail "no new MAINPID (notes: $(tail -3 "$T/notes"))"
kill -0 "$pid" 2>/dev/null && fail "the old daemon $pid still runs" || pass "the old daemon exited"
"$ESEMCTL" --socket "$T/esemd.sock" ping >"$T/ping2" 2>&1 && grep -q "pid $newpid" "$T/ping2" &&
  pass "the activated socket is answered by the new daemon" || fail "ping after restart: $(cat "$T/ping2")"
pid=$newpid
kill -TERM "$pid" 2>/dev/null
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
grep -q 'STOPPING=1' "$T/notes" && pass "STOPPING=1 at SIGTERM" || fail "no STOPPING=1"
[ -S "$T/esemd.sock" ] && pass "the socket stays (it is systemd's)" || fail "esemd removed the activated socket"
# LISTEN_FDS naming something else (here /dev/null): refused at start
LISTEN_PID=$$ LISTEN_FDS=1 bash -c 'exec env LISTEN_PID=$$ "$0" --foreground --socket "$1" --log "$2" 3</dev/null' \
  "$ESEMD" "$T/x.sock" "$T/bad.log" >"$T/bad.err" 2>&1 &&
  fail "esemd took /dev/null as its socket" || {
  grep -q 'not a listening AF_UNIX SOCK_SEQPACKET' "$T/bad.err" && pass "a passed descriptor that is no listening seqpacket socket is refused" ||
    fail "bad LISTEN_FDS: $(cat "$T/bad.err")"; }
echo "$fails failed"
[ "$fails" = 0 ]
